import { lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import { createImageFile, describeCreateImageFile, finishImageFile } from '../../src/storage/image-file.js';
import { checkFreeSpace } from '../../src/storage/free-space.js';
import {
  makeContext,
  makeTempDir,
  removeDir,
  withPathFirst,
  writeFakeTool,
} from '../helpers/storage-fixtures.js';

let tmp: string;
let fakeBin: string;
beforeAll(async () => {
  tmp = makeTempDir('image-file');
  fakeBin = path.join(tmp, 'bin');
  await mkdir(fakeBin);
});
afterAll(() => removeDir(tmp));

const MiB = 1024 ** 2;

describe('createImageFile', () => {
  it('creates a sparse image of the exact size, mode 0600, with its parent directories', async () => {
    const ctx = makeContext();
    const file = path.join(tmp, 'sparse/domains/web1/disk.img');
    const image = await createImageFile({ path: file, size: 64 * MiB, allocation: 'sparse' }, ctx);
    const st = await stat(file);
    expect(image).toEqual({ path: file, workPath: file, size: 64 * MiB, replaces: false });
    expect(st.size).toBe(64 * MiB);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.blocks * 512).toBeLessThan(MiB);
  });

  it('removes the file and only the directories it created when unwound', async () => {
    const ctx = makeContext();
    await mkdir(path.join(tmp, 'unwind'));
    const file = path.join(tmp, 'unwind/domains/web1/disk.img');
    await createImageFile({ path: file, size: MiB, allocation: 'sparse' }, ctx);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    expect(await readdir(path.join(tmp, 'unwind'))).toEqual([]);
  });

  it('refuses to replace an existing file unless the overwrite was approved', async () => {
    const file = path.join(tmp, 'exists.img');
    await writeFile(file, 'precious');
    const ctx = makeContext();
    const attempt = createImageFile({ path: file, size: MiB, allocation: 'sparse' }, ctx);
    await expect(attempt).rejects.toMatchObject({ code: 'E_EXISTS' });
    expect(await readFile(file, 'utf8')).toBe('precious');
    expect(ctx.undo.size).toBe(0);
  });

  it('builds an approved replacement beside the old file and renames it only when finished', async () => {
    const file = path.join(tmp, 'replace.img');
    await writeFile(file, 'old image');
    const ctx = makeContext();
    const image = await createImageFile(
      { path: file, size: 2 * MiB, allocation: 'sparse', overwrite: true },
      ctx,
    );
    expect(image.replaces).toBe(true);
    expect(path.dirname(image.workPath)).toBe(tmp);
    expect(await readFile(file, 'utf8')).toBe('old image');
    await finishImageFile(image, ctx);
    expect((await stat(file)).size).toBe(2 * MiB);
    expect(ctx.undo.size).toBe(0);
  });

  it('leaves the old file alone when an approved replacement is unwound', async () => {
    const file = path.join(tmp, 'replace-unwound.img');
    await writeFile(file, 'old image');
    const ctx = makeContext();
    const image = await createImageFile(
      { path: file, size: MiB, allocation: 'sparse', overwrite: true },
      ctx,
    );
    await ctx.undo.unwind(ctx.sink);
    expect(await readFile(file, 'utf8')).toBe('old image');
    await expect(lstat(image.workPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('writes zeros where fallocate is not supported', async () => {
    const bin = path.join(fakeBin, 'unsupported');
    await mkdir(bin);
    writeFakeTool(
      bin,
      'fallocate',
      'echo "fallocate: fallocate failed: Operation not supported" >&2; exit 1',
    );
    const ctx = makeContext();
    const file = path.join(tmp, 'zeros.img');
    await withPathFirst(bin, () => createImageFile({ path: file, size: 8 * MiB, allocation: 'full' }, ctx));
    const st = await stat(file);
    expect(st.size).toBe(8 * MiB);
    expect(st.blocks * 512).toBeGreaterThanOrEqual(8 * MiB);
    expect(ctx.events.some((e) => e.type === 'info' && e.message.includes('writing zeros'))).toBe(true);
  });

  it('turns ENOSPC from fallocate into E_NO_SPACE naming the path, and leaves no file', async () => {
    const bin = path.join(fakeBin, 'full');
    await mkdir(bin);
    writeFakeTool(
      bin,
      'fallocate',
      'echo "fallocate: fallocate failed: No space left on device" >&2; exit 1',
    );
    const ctx = makeContext();
    const file = path.join(tmp, 'nospace.img');
    const error = await withPathFirst(bin, () =>
      createImageFile({ path: file, size: MiB, allocation: 'full' }, ctx),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect(error).toMatchObject({ code: 'E_NO_SPACE' });
    expect((error as XenkitError).message).toContain(file);
    expect((error as XenkitError).message).toMatch(/free\)/);
    await ctx.undo.unwind(ctx.sink);
    await expect(lstat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('checkFreeSpace', () => {
  it('passes when there is room and names the directory and both sizes when not', async () => {
    await expect(checkFreeSpace(tmp, 1)).resolves.toBeUndefined();
    const error = await checkFreeSpace(path.join(tmp, 'not/yet/made'), 2 ** 52).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_NO_SPACE' });
    expect((error as XenkitError).message).toMatch(/not\/yet\/made: 4096T needed but only .* free/);
  });
});

describe('describeCreateImageFile', () => {
  it('shows the fallocate run only for full images', () => {
    const full = describeCreateImageFile({ path: '/srv/d/disk.img', size: MiB, allocation: 'full' });
    expect(full).toContainEqual({
      kind: 'run',
      argv: ['fallocate', '--length', String(MiB), '/srv/d/disk.img'],
    });
    const sparse = describeCreateImageFile({ path: '/srv/d/disk.img', size: MiB, allocation: 'sparse' });
    expect(sparse.some((a) => a.kind === 'run')).toBe(false);
    expect(sparse).toContainEqual({ kind: 'mkdir', path: '/srv/d' });
  });
});

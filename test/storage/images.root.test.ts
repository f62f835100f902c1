import { lstat, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImageFile, discardImageFile } from '../../src/storage/image-file.js';
import { convertToQcow2 } from '../../src/storage/qcow2.js';
import { makeSwap } from '../../src/storage/swap.js';
import { makeFilesystem } from '../../src/storage/filesystem.js';
import { probeBlock } from '../../src/tools/blkid.js';
import { createOverlay, readImageInfo } from '../../src/tools/qemu-img.js';
import { hostStorageState, makeContext, makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

const MiB = 1024 ** 2;
let tmp: string;
let before: Awaited<ReturnType<typeof hostStorageState>>;
beforeAll(() => {
  tmp = makeTempDir('images');
});
afterAll(() => removeDir(tmp));
beforeEach(async () => {
  before = await hostStorageState([tmp]);
});
afterEach(async () => {
  expect(await hostStorageState([tmp])).toEqual(before);
});

describe('image allocation (real fallocate)', () => {
  it.each([
    ['sparse', (blocks: number) => expect(blocks).toBeLessThan(MiB)],
    ['full', (blocks: number) => expect(blocks).toBeGreaterThanOrEqual(64 * MiB)],
  ] as const)('allocates a %s image as asked (st_blocks)', async (allocation, check) => {
    const ctx = makeContext();
    const file = path.join(tmp, `${allocation}.img`);
    await createImageFile({ path: file, size: 64 * MiB, allocation }, ctx);
    const st = await stat(file);
    expect(st.size).toBe(64 * MiB);
    check(st.blocks * 512);
  });
});

describe('makeSwap (real mkswap)', () => {
  it('writes a swap signature with the UUID and label asked for', async () => {
    const ctx = makeContext();
    const image = await createImageFile(
      { path: path.join(tmp, 'swap.img'), size: 64 * MiB, allocation: 'sparse' },
      ctx,
    );
    const uuid = '5eed0000-aaaa-4bbb-8ccc-000000000001';
    expect(await makeSwap({ target: image.workPath, uuid, label: 'swap' }, ctx)).toBe(uuid);
    expect(await probeBlock(image.workPath)).toMatchObject({ type: 'swap', uuid, label: 'swap' });
  });
});

describe('qcow2 (real qemu-img)', () => {
  it.each(['sparse', 'full'] as const)(
    'converts a finished raw image to a %s qcow2 and drops the raw one',
    async (allocation) => {
      const ctx = makeContext();
      const raw = await createImageFile(
        { path: path.join(tmp, `conv-${allocation}.raw`), size: 128 * MiB, allocation: 'sparse' },
        ctx,
      );
      const uuid = '5eed0000-aaaa-4bbb-8ccc-000000000002';
      await makeFilesystem({ target: raw.workPath, fs: 'ext4', uuid, sizeBytes: 128 * MiB }, ctx);
      const target = path.join(tmp, `qcow/conv-${allocation}.qcow2`);
      const info = await convertToQcow2({ source: raw.workPath, target, allocation }, ctx);
      await discardImageFile(raw.workPath, ctx);
      expect(info).toMatchObject({ format: 'qcow2', virtualSize: 128 * MiB, filename: target });
      const reread = await readImageInfo(target);
      expect(reread.format).toBe('qcow2');
      if (allocation === 'full') expect(reread.actualSize).toBeGreaterThanOrEqual(128 * MiB);
      else expect(reread.actualSize).toBeLessThan(64 * MiB);
      await expect(lstat(raw.workPath)).rejects.toMatchObject({ code: 'ENOENT' });
      // What remains to undo: the qcow2 (and the directory made for it).
      expect(ctx.undo.describe()).toContain(`remove image file ${target}`);
      await ctx.undo.unwind(ctx.sink);
      await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it('creates an overlay that names its base and the format given for it (qemu-img create -F)', async () => {
    const ctx = makeContext();
    const raw = await createImageFile(
      { path: path.join(tmp, 'base.raw'), size: 16 * MiB, allocation: 'sparse' },
      ctx,
    );
    const base = path.join(tmp, 'base.qcow2');
    await convertToQcow2({ source: raw.workPath, target: base, allocation: 'sparse' }, ctx);
    const overlay = path.join(tmp, 'clone.qcow2');
    await createOverlay(base, 'qcow2', overlay);
    expect(await readImageInfo(overlay)).toMatchObject({
      format: 'qcow2',
      virtualSize: 16 * MiB,
      backingFile: base,
      backingFormat: 'qcow2',
    });
    await rm(overlay);
  });
});

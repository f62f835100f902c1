import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FsType } from '../../src/model/guest-spec.js';
import { makeFilesystem, populateFilesystem } from '../../src/storage/filesystem.js';
import { createImageFile } from '../../src/storage/image-file.js';
import { probeBlock } from '../../src/tools/blkid.js';
import { runCommand } from '../../src/tools/exec.js';
import { buildSampleTree } from '../helpers/sample-tree.js';
import { hostStorageState, makeContext, makeTempDir, removeDir } from '../helpers/storage-fixtures.js';
import { compareTrees } from '../helpers/tree-compare.js';

const MiB = 1024 ** 2;
const SIZE = 320 * MiB; // xfs needs 300 MiB
let tmp: string;
let tree: string;
let plainTree: string;
let oddRootTree: string;
let before: Awaited<ReturnType<typeof hostStorageState>>;

beforeAll(async () => {
  tmp = makeTempDir('fs-root');
  tree = path.join(tmp, 'tree');
  plainTree = path.join(tmp, 'plain');
  oddRootTree = path.join(tmp, 'odd-root');
  for (const dir of [tree, plainTree, oddRootTree]) await mkdir(dir);
  const report = await buildSampleTree(tree);
  expect(report.capability).toBe(true);
  await buildSampleTree(plainTree, { devices: false });
  await buildSampleTree(oddRootTree, { devices: false, root: { mode: 0o750, uid: 7, gid: 8 } });
});
afterAll(() => removeDir(tmp));
beforeEach(async () => {
  before = await hostStorageState([tmp]);
});
afterEach(async () => {
  expect(await hostStorageState([tmp])).toEqual(before);
});

/** Mounts the image read-only (loop, autoclear), compares it with `source`, unmounts. */
async function compareImage(
  image: string,
  source: string,
  options: { sparse?: boolean } = {},
): Promise<string[]> {
  const dir = makeTempDir('verify');
  await runCommand(['mount', '-o', 'ro,loop', image, dir]);
  try {
    return await compareTrees(source, dir, { ignoreActual: ['lost+found'], ...options });
  } finally {
    await runCommand(['umount', dir]);
    removeDir(dir);
  }
}

function uuidFor(n: number): string {
  return `5eed${String(n).padStart(4, '0')}-1111-4222-8333-${String(Date.now()).slice(-12).padStart(12, '0')}`;
}

describe('makeFilesystem on image files (real mkfs)', () => {
  it.each([
    ['ext2', 'mkfs'],
    ['ext3', 'mkfs'],
    ['ext4', 'mkfs'],
    ['xfs', 'mount-copy'],
    ['btrfs', 'mount-copy'],
  ] as const)('populates %s faithfully from a tree with devices (by %s)', async (fs: FsType, strategy) => {
    const ctx = makeContext();
    const image = await createImageFile(
      { path: path.join(tmp, `${fs}.img`), size: SIZE, allocation: 'sparse' },
      ctx,
    );
    const uuid = uuidFor(1);
    const result = await makeFilesystem(
      { target: image.workPath, fs, uuid, label: 'root', populateFrom: tree, sizeBytes: SIZE },
      ctx,
    );
    expect(result).toMatchObject({ uuid, type: fs, strategy });
    expect(await probeBlock(image.workPath)).toMatchObject({ uuid, type: fs, label: 'root' });
    // Only the image file's own undo is left: every loop device and mount was released.
    expect(ctx.undo.describe()).toEqual([`remove image file ${image.workPath}`]);
    expect(await compareImage(image.workPath, tree)).toEqual([]);
  });

  it('populates btrfs mount-free through --rootdir when the tree has no device nodes (holes are filled)', async () => {
    const ctx = makeContext();
    const image = await createImageFile(
      { path: path.join(tmp, 'btrfs-plain.img'), size: SIZE, allocation: 'sparse' },
      ctx,
    );
    const uuid = uuidFor(2);
    const result = await makeFilesystem(
      { target: image.workPath, fs: 'btrfs', uuid, populateFrom: plainTree, sizeBytes: SIZE },
      ctx,
    );
    expect(result.strategy).toBe('mkfs');
    expect(ctx.events.some((e) => e.type === 'exec' && e.argv[0] === 'losetup')).toBe(false);
    // btrfs-progs 6.2 --rootdir writes zeros where the source has holes: everything else matches.
    expect(await compareImage(image.workPath, plainTree, { sparse: false })).toEqual([]);
  });

  it.each([
    ['ext4', 'mkfs'],
    ['btrfs', 'mount-copy'],
  ] as const)('gives %s the top directory mode and owner of the tree (by %s)', async (fs, strategy) => {
    const ctx = makeContext();
    const image = await createImageFile(
      { path: path.join(tmp, `odd-root-${fs}.img`), size: SIZE, allocation: 'sparse' },
      ctx,
    );
    const result = await makeFilesystem(
      { target: image.workPath, fs, uuid: uuidFor(3), populateFrom: oddRootTree, sizeBytes: SIZE },
      ctx,
    );
    expect(result.strategy).toBe(strategy);
    expect(await compareImage(image.workPath, oddRootTree)).toEqual([]);
  });

  it.each([
    ['ext4', ['mkfs.ext4', '-q', '-F']],
    ['xfs', ['mkfs.xfs', '-q', '-f']],
    ['btrfs', ['mkfs.btrfs', '-q', '-f']],
  ] as const)(
    'honours a make_fs_%s override, then sets the UUID and copies through a mount',
    async (fs, command) => {
      const ctx = makeContext();
      const image = await createImageFile(
        { path: path.join(tmp, `override-${fs}.img`), size: SIZE, allocation: 'sparse' },
        ctx,
      );
      const uuid = uuidFor(4);
      const result = await makeFilesystem(
        { target: image.workPath, fs, uuid, populateFrom: tree, sizeBytes: SIZE, mkfsCommand: [...command] },
        ctx,
      );
      expect(result).toMatchObject({ uuid, strategy: 'mount-copy' });
      expect(ctx.events.find((e) => e.type === 'exec' && e.argv[0] === command[0])).toMatchObject({
        argv: [...command, image.workPath],
      });
      expect(await compareImage(image.workPath, tree)).toEqual([]);
    },
  );

  it('copies into an existing filesystem with --dontformat and reports its UUID', async () => {
    const ctx = makeContext();
    const image = await createImageFile(
      { path: path.join(tmp, 'dontformat.img'), size: SIZE, allocation: 'sparse' },
      ctx,
    );
    const uuid = uuidFor(5);
    await runCommand(['mkfs.ext4', '-q', '-F', '-U', uuid, image.workPath]);
    const result = await populateFilesystem(
      { target: image.workPath, fs: 'ext4', populateFrom: tree, sizeBytes: SIZE },
      ctx,
    );
    expect(result).toMatchObject({ uuid, type: 'ext4', strategy: 'mount-copy' });
    expect(ctx.events.some((e) => e.type === 'exec' && e.argv[0] === 'mkfs.ext4')).toBe(false);
    expect(await compareImage(image.workPath, tree)).toEqual([]);
  });

  it('refuses --dontformat on an image that holds no filesystem of that kind', async () => {
    const ctx = makeContext();
    const image = await createImageFile(
      { path: path.join(tmp, 'blank.img'), size: SIZE, allocation: 'sparse' },
      ctx,
    );
    await runCommand(['mkfs.xfs', '-q', '-f', image.workPath]);
    await expect(
      populateFilesystem({ target: image.workPath, fs: 'ext4', sizeBytes: SIZE }, ctx),
    ).rejects.toMatchObject({ code: 'E_FS_VERIFY' });
  });
});

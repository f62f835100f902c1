import { chmod, mkdir, mkdtemp, open, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import {
  checksumImage,
  copyImageChecked,
  dataCrcOf,
  dataRuns,
} from '../../src/install/rootfs-cache-image.js';
import { ROOTFS_CACHE_FORMAT } from '../../src/install/rootfs-cache-key.js';
import {
  IMAGE_FILE,
  isEntry,
  listEntries,
  lockEntry,
  makeBuildDir,
  MANIFEST_FILE,
  publishEntry,
  readEntry,
  type RootfsManifest,
} from '../../src/install/rootfs-cache-store.js';

const KEY = '0123456789abcdef0123456789abcdef';
const MIB = 1024 * 1024;

/** A 4 MiB sparse "image" with data in its first and third MiB. */
async function writeSampleImage(file: string): Promise<void> {
  const handle = await open(file, 'w');
  await handle.truncate(4 * MIB);
  await handle.write(Buffer.alloc(8192, 0x41), 0, 8192, 0);
  await handle.write(Buffer.from('guest data'), 0, 10, 2 * MIB + 4096 * 3);
  await handle.close();
}

async function manifestFor(image: string, key = KEY): Promise<RootfsManifest> {
  const sums = await checksumImage(image);
  return {
    format: ROOTFS_CACHE_FORMAT,
    key,
    fields: {
      format: ROOTFS_CACHE_FORMAT,
      installer: 'mmdebstrap',
      installerVersion: 'mmdebstrap 1.3.5',
      suite: 'bookworm',
      architecture: 'amd64',
      variant: 'apt',
      mirrors: ['http://deb.debian.org/debian'],
      components: ['main'],
      packages: ['openssh-server'],
      keyringSha256: null,
      initramfsConfigSha256: null,
    },
    createdAt: new Date().toISOString(),
    buildMs: 1,
    image: {
      file: IMAGE_FILE,
      fs: 'ext4',
      bytes: sums.bytes,
      sha256: sums.sha256,
      dataCrc32: sums.dataCrc32,
      chunkBytes: MIB,
    },
    tree: { packagesInstalled: 2, treeBytes: 10, sanitized: [] },
  };
}

describe('root-tree cache entries', () => {
  let root: string;
  beforeEach(async () => {
    root = path.join(await mkdtemp(path.join(tmpdir(), 'xenkit-store-')), 'rootfs');
  });
  afterEach(async () => {
    await chmod(path.dirname(root), 0o700);
    await rm(path.dirname(root), { recursive: true, force: true });
  });

  async function publishSample(): Promise<string> {
    const build = await makeBuildDir(root, KEY);
    await writeSampleImage(path.join(build, IMAGE_FILE));
    return publishEntry(root, build, await manifestFor(path.join(build, IMAGE_FILE)));
  }

  it('refuses a cache directory that other users can write to, naming it', async () => {
    await mkdir(root, { mode: 0o777 });
    await chmod(root, 0o777);
    await expect(makeBuildDir(root, KEY)).rejects.toMatchObject({
      code: 'E_UNSAFE_DIR',
      message: expect.stringContaining(`${root} is writable by every user`),
    });
    expect(await readdir(root)).toEqual([]);
  });

  it('publishes a complete entry that reads back as usable, and leaves no build directory', async () => {
    const dir = await publishSample();
    const found = await readEntry(root, KEY);
    expect(isEntry(found)).toBe(true);
    expect(isEntry(found) && found.manifest.image.bytes).toBe(4 * MIB);
    expect(dir).toBe(path.join(root, KEY));
    expect((await readdir(root)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it.each<[string, (dir: string) => Promise<void>, RegExp]>([
    ['without a manifest (a build that died)', (dir) => rm(path.join(dir, MANIFEST_FILE)), /no manifest/],
    [
      'with a half-written manifest',
      (dir) => writeFile(path.join(dir, MANIFEST_FILE), '{"format": 1, "ke'),
      /not valid JSON/,
    ],
    [
      'with a manifest of another format',
      async (dir) =>
        writeFile(
          path.join(dir, MANIFEST_FILE),
          JSON.stringify({ ...(await manifestFor(path.join(dir, IMAGE_FILE))), format: 0 }),
        ),
      /another format/,
    ],
    [
      'with a manifest of another key',
      async (dir) =>
        writeFile(
          path.join(dir, MANIFEST_FILE),
          JSON.stringify(await manifestFor(path.join(dir, IMAGE_FILE), 'f'.repeat(32))),
        ),
      /another format/,
    ],
    [
      'whose image is truncated',
      (dir) => truncate(path.join(dir, IMAGE_FILE), MIB),
      /has 1048576 bytes, the manifest says 4194304/,
    ],
    ['whose image is missing', (dir) => rm(path.join(dir, IMAGE_FILE)), /missing/],
  ])('refuses an entry %s', async (_what, damage, reason) => {
    const dir = await publishSample();
    await damage(dir);
    const found = await readEntry(root, KEY);
    expect(isEntry(found)).toBe(false);
    expect(!isEntry(found) && found.reason).toMatch(reason);
    expect((await listEntries(root)).map((e) => isEntry(e))).toEqual([false]);
  });

  it('notices a flipped byte in the image through the data CRC (size and manifest still fine)', async () => {
    await publishSample();
    const found = await readEntry(root, KEY);
    if (!isEntry(found)) throw new Error(found.reason);
    const handle = await open(found.imagePath, 'r+');
    await handle.write(Buffer.from('X'), 0, 1, 2 * MIB + 4096 * 3);
    await handle.close();
    expect(isEntry(await readEntry(root, KEY))).toBe(true);
    expect((await dataCrcOf(found.imagePath)).dataCrc32).not.toBe(found.manifest.image.dataCrc32);
    expect((await checksumImage(found.imagePath)).sha256).not.toBe(found.manifest.image.sha256);
  });

  it('replaces an older entry of the same key in one rename', async () => {
    await publishSample();
    const first = await readEntry(root, KEY);
    const build = await makeBuildDir(root, KEY);
    await writeSampleImage(path.join(build, IMAGE_FILE));
    const manifest = {
      ...(await manifestFor(path.join(build, IMAGE_FILE))),
      createdAt: '2030-01-01T00:00:00.000Z',
    };
    await publishEntry(root, build, manifest);
    const second = await readEntry(root, KEY);
    expect(isEntry(first) && isEntry(second) && second.manifest.createdAt).not.toBe(
      isEntry(first) && first.manifest.createdAt,
    );
    expect(await readdir(root)).toEqual([KEY]);
  });

  it('lists only entry directories, not build directories', async () => {
    await publishSample();
    await mkdir(path.join(root, `.build-${KEY}-1-abcdef`));
    expect((await listEntries(root)).map((e) => e.key)).toEqual([KEY]);
  });

  it('lets a second caller wait for the per-key lock until the first releases it', async () => {
    const locks = path.join(root, 'locks');
    const first = await lockEntry(locks, KEY, new AbortController().signal);
    const waited: string[] = [];
    let secondHas = false;
    const second = lockEntry(locks, KEY, new AbortController().signal, (holder) => waited.push(holder)).then(
      (l) => {
        secondHas = true;
        return l;
      },
    );
    await new Promise((r) => setTimeout(r, 400));
    expect(secondHas).toBe(false);
    expect(waited).toEqual([String(process.pid)]);
    first.release();
    (await second).release();
    expect(secondHas).toBe(true);
  });

  it('stops waiting for the lock when cancelled', async () => {
    const locks = path.join(root, 'locks');
    const held = await lockEntry(locks, KEY, new AbortController().signal);
    await expect(lockEntry(locks, KEY, AbortSignal.abort())).rejects.toMatchObject({ code: 'E_CANCELLED' });
    held.release();
  });
});

describe('copyImageChecked', () => {
  it('copies data at the same offsets, keeps holes, and returns the data CRC of the source', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'xenkit-copy-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const source = path.join(dir, 'src.img');
    const target = path.join(dir, 'dst.img');
    await writeSampleImage(source);
    await writeFile(target, '');
    await truncate(target, 8 * MIB);
    const copied = await copyImageChecked(source, target);
    const sums = await checksumImage(source);
    expect(copied).toEqual({ bytes: 4 * MIB, dataCrc32: sums.dataCrc32 });
    const out = await open(target, 'r');
    const head = Buffer.alloc(8192);
    await out.read(head, 0, 8192, 0);
    const word = Buffer.alloc(10);
    await out.read(word, 0, 10, 2 * MIB + 4096 * 3);
    await out.close();
    expect(head.every((b) => b === 0x41)).toBe(true);
    expect(word.toString()).toBe('guest data');
    // 8 KiB + one 4 KiB block of data: the rest stays unallocated.
    expect((await stat(target)).blocks * 512).toBeLessThanOrEqual(64 * 1024);
    expect((await stat(target)).size).toBe(8 * MIB);
  });

  it.each<[string, Buffer, [number, number][]]>([
    ['all zeros', Buffer.alloc(16384), []],
    [
      'one block',
      Buffer.concat([Buffer.alloc(4096), Buffer.alloc(4096, 1), Buffer.alloc(8192)]),
      [[4096, 8192]],
    ],
    [
      'two runs',
      Buffer.concat([Buffer.alloc(4096, 1), Buffer.alloc(4096), Buffer.alloc(8192, 2)]),
      [
        [0, 4096],
        [8192, 16384],
      ],
    ],
    ['a short tail', Buffer.concat([Buffer.alloc(4096), Buffer.from('x')]), [[4096, 4097]]],
  ])('finds the data runs of a chunk: %s', (_what, chunk, runs) => {
    expect(dataRuns(chunk)).toEqual(runs);
  });
});

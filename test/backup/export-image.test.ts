/**
 * exportImage on small files: pieces of a size that cuts through chunks and 64 KiB blocks join
 * back to the image bit for bit, each piece's and the whole image's SHA-256 are those of the
 * bytes, holes stay holes, and a damaged chunk table is refused.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportImage, pieceCount } from '../../src/backup/export-image.js';
import { openOrCreateRepository, type Repository } from '../../src/backup/repository.js';
import { storeImage } from '../../src/backup/store-image.js';
import type { ManifestDisk } from '../../src/backup/manifest.js';
import { makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

const CHUNK = 256 * 1024;
let dir: string;
let repo: Repository;

beforeEach(async () => {
  dir = makeTempDir('backup-export');
  repo = await openOrCreateRepository(path.join(dir, 'repo'), CHUNK);
});
afterEach(() => removeDir(dir));

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** 10 chunks and a short tail: data, a long hole, data that ends mid-block. */
async function storedDisk(): Promise<{ disk: ManifestDisk; bytes: Buffer }> {
  const bytes = Buffer.alloc(10 * CHUNK + 1000);
  randomBytes(CHUNK + 5000).copy(bytes, 3);
  randomBytes(70_000).copy(bytes, 7 * CHUNK + 100);
  bytes.write('tail', bytes.length - 4);
  const file = path.join(dir, 'disk.img');
  fs.writeFileSync(file, bytes);
  const stored = await storeImage(repo, file, { dirs: new Set(), cache: {}, seen: new Set(), made: [] });
  const disk = { target: '/srv/disk.img', vdev: 'xvda', format: 'raw', ...stored };
  return { disk, bytes };
}

describe('exportImage', () => {
  it.each([
    ['whole', undefined],
    ['pieces that cut through chunks and blocks', 300_001],
    ['pieces of one chunk', CHUNK],
  ])('writes the image %s, hashed as written', async (_what, pieceSize) => {
    const { disk, bytes } = await storedDisk();
    const files: string[] = [];
    const out = await exportImage(repo, disk, CHUNK, {
      pieceSize,
      openPiece: (i) => {
        files[i] = path.join(dir, `out.${i}`);
        return fs.promises.open(files[i]!, 'wx');
      },
    });
    expect(out.pieces).toHaveLength(pieceCount(bytes.length, pieceSize));
    const joined = Buffer.concat(files.map((f) => fs.readFileSync(f)));
    expect(joined.equals(bytes)).toBe(true);
    expect(out.sha256).toBe(sha(bytes));
    for (const [i, f] of files.entries()) expect(out.pieces[i]!.sha256).toBe(sha(fs.readFileSync(f)));
    // The hole of chunks 2..6 is not written: the files hold far less than the image's size.
    const allocated = files.reduce((n, f) => n + fs.statSync(f).blocks * 512, 0);
    expect(allocated).toBeLessThan(bytes.length / 2);
  });

  it('refuses a chunk table that does not match its digest, naming the disk', async () => {
    const { disk } = await storedDisk();
    const bad = { ...disk, chunks: [...disk.chunks].reverse() };
    await expect(
      exportImage(repo, bad, CHUNK, { openPiece: () => fs.promises.open(path.join(dir, 'x'), 'wx') }),
    ).rejects.toThrow(/chunk table of \/srv\/disk\.img/);
  });
});

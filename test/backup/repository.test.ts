/**
 * The repository on small files: chunks stored once and read back, zero chunks stored as nothing,
 * the files cache, manifests that notice a flipped byte, verify naming the snapshot and disk of a
 * damaged chunk, prune freeing only what nothing needs, and a sparse restore that gives the bytes back.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkPath, listChunks, readChunk } from '../../src/backup/chunk-store.js';
import { loadFilesCache, saveFilesCache, type FilesCache } from '../../src/backup/files-cache.js';
import {
  chunkTableDigest,
  parseManifest,
  readManifest,
  renderManifest,
  writeManifest,
  type Manifest,
} from '../../src/backup/manifest.js';
import { applyPrune, choosePrune } from '../../src/backup/prune.js';
import {
  openOrCreateRepository,
  openRepository,
  sweepTemporaries,
  type Repository,
} from '../../src/backup/repository.js';
import { restoreImage } from '../../src/backup/restore-image.js';
import { overlapsData, storeImage, type StoredImage } from '../../src/backup/store-image.js';
import { verifyRepository } from '../../src/backup/verify.js';
import { testManifest } from '../helpers/backup-fixtures.js';
import { makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

const CHUNK = 64 * 1024;

let dir: string;
let repo: Repository;

beforeEach(async () => {
  dir = makeTempDir('backup-unit');
  repo = await openOrCreateRepository(path.join(dir, 'repo'), CHUNK);
});

afterEach(() => removeDir(dir));

/** An image of 6 chunks: data, zeros, data, a copy of the first, a hole, a short tail. */
function makeImage(name: string): { file: string; first: Buffer } {
  const file = path.join(dir, name);
  const first = randomBytes(CHUNK);
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, first, 0, CHUNK, 0);
  fs.writeSync(fd, Buffer.alloc(CHUNK), 0, CHUNK, CHUNK);
  fs.writeSync(fd, Buffer.from('x'.repeat(CHUNK)), 0, CHUNK, 2 * CHUNK);
  fs.writeSync(fd, first, 0, CHUNK, 3 * CHUNK);
  fs.writeSync(fd, Buffer.from('tail'), 0, 4, 5 * CHUNK);
  fs.closeSync(fd);
  return { file, first };
}

async function store(file: string, cache: FilesCache = {}): Promise<StoredImage> {
  return storeImage(repo, file, { dirs: new Set(), cache, seen: new Set(), made: [] });
}

function manifestOf(id: string, guest: string, file: string, stored: StoredImage, time: string): Manifest {
  return testManifest({ id, guest, file, stored, time, chunkSize: CHUNK });
}

describe('the chunk store', () => {
  it('makes the repository private (0700 directories, 0600 files)', () => {
    expect(fs.statSync(repo.dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(repo.chunksDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(repo.dir, 'xenkit-backup.json')).mode & 0o777).toBe(0o600);
    expect(openRepository(repo.dir).chunkSize).toBe(CHUNK);
  });

  it('stores each distinct chunk once and zero chunks as nothing', async () => {
    const { file } = makeImage('a.img');
    const stored = await store(file);
    expect(stored.chunks).toHaveLength(6);
    expect(stored.chunks[1]).toBeNull();
    expect(stored.chunks[4]).toBeNull();
    expect(stored.chunks[3]).toBe(stored.chunks[0]);
    expect(stored.newChunks).toBe(3);
    expect((await listChunks(repo)).sort()).toEqual([...new Set(stored.chunks.filter(Boolean))].sort());
    // The repeated-letter chunk compresses; the random one is kept as it is.
    expect(fs.statSync(chunkPath(repo, stored.chunks[2]!)).size).toBeLessThan(CHUNK / 10);
    expect(fs.statSync(chunkPath(repo, stored.chunks[0]!)).mode & 0o777).toBe(0o600);
    expect((await readChunk(repo, stored.chunks[5]!)).subarray(0, 4).toString()).toBe('tail');
  });

  it('skips reading chunks outside the data ranges it is given', async () => {
    const { file } = makeImage('b.img');
    const stored = await storeImage(repo, file, {
      dirs: new Set(),
      cache: {},
      seen: new Set(),
      made: [],
      mapData: () =>
        Promise.resolve([
          { start: 0, end: CHUNK },
          { start: 2 * CHUNK, end: 4 * CHUNK },
          { start: 5 * CHUNK, end: 5 * CHUNK + 4 },
        ]),
    });
    expect(stored.readBytes).toBe(3 * CHUNK + 4);
    expect(stored.chunks.map((c) => c !== null)).toEqual([true, false, true, true, false, true]);
  });

  it.each([
    [0, CHUNK, true],
    [CHUNK, 2 * CHUNK, false],
    [2 * CHUNK - 1, 2 * CHUNK, false],
    [3 * CHUNK, 4 * CHUNK, true],
    [5 * CHUNK, 6 * CHUNK, false],
  ])('finds whether [%i, %i) meets the data ranges (%s)', (start, end, expected) => {
    const ranges = [
      { start: 100, end: CHUNK + 1 },
      { start: 3 * CHUNK + 10, end: 3 * CHUNK + 20 },
    ];
    expect(overlapsData(ranges, start, end)).toBe(expected || (start === CHUNK && end === 2 * CHUNK));
  });

  it('reuses the chunk list of an unchanged image without reading it, and reads it again once it changes', async () => {
    const { file } = makeImage('c.img');
    const cache: FilesCache = {};
    const first = await store(file, cache);
    await saveFilesCache(repo, cache);
    const loaded = await loadFilesCache(repo);
    const second = await store(file, loaded);
    expect(second.isCacheHit).toBe(true);
    expect(second.readBytes).toBe(0);
    expect(second.chunks).toEqual(first.chunks);
    fs.writeFileSync(file, Buffer.from('changed'), { flag: 'r+' });
    const third = await store(file, loaded);
    expect(third.isCacheHit).toBe(false);
    expect(third.newChunks).toBe(1);
    expect(third.chunks.slice(1)).toEqual(first.chunks.slice(1));
  });

  it('reads a block device whole every time: its size as given, no files cache read or written, only new chunks stored', async () => {
    const { file } = makeImage('dev.img');
    // A device's stat says nothing of its data: with a cache entry that would match, it is read anyway.
    const cache: FilesCache = {};
    await store(file, cache);
    expect(cache[file]).toBeDefined();
    const asDevice = (): Promise<StoredImage> =>
      storeImage(repo, file, { dirs: new Set(), cache, seen: new Set(), made: [], deviceSize: 4 * CHUNK });
    const again = await asDevice();
    expect(again.isCacheHit).toBe(false);
    expect(again.size).toBe(4 * CHUNK);
    expect(again.readBytes).toBe(4 * CHUNK);
    expect(again.chunks.map((c) => c !== null)).toEqual([true, false, true, true]);
    expect(again.newChunks).toBe(0);
    expect(cache[file]).toBeUndefined();
  });

  it('reads an image through the raw view it opens, sized as the view, and reads it again when a backing file changes', async () => {
    const { file: view } = makeImage('view.img');
    const image = path.join(dir, 'overlay.qcow2');
    const base = path.join(dir, 'base.img');
    fs.writeFileSync(image, 'qcow2 header and a few clusters');
    fs.writeFileSync(base, 'the base');
    let opened = 0;
    let closed = 0;
    const cache: FilesCache = {};
    const storeOverlay = (): Promise<StoredImage> =>
      storeImage(repo, image, {
        dirs: new Set(),
        cache,
        seen: new Set(),
        made: [],
        backing: [base],
        open: () => {
          opened += 1;
          return Promise.resolve({
            path: view,
            ranges: [{ start: 0, end: 3 * CHUNK }],
            close: () => {
              closed += 1;
              return Promise.resolve();
            },
          });
        },
      });
    const first = await storeOverlay();
    expect(first.size).toBe(fs.statSync(view).size);
    expect(first.readBytes).toBe(3 * CHUNK);
    expect(first.chunks.map((c) => c !== null)).toEqual([true, false, true, false, false, false]);
    const second = await storeOverlay();
    expect(second).toMatchObject({ isCacheHit: true, size: first.size, digest: first.digest });
    expect([opened, closed]).toEqual([1, 1]);
    fs.appendFileSync(base, ' changed');
    const third = await storeOverlay();
    expect(third.isCacheHit).toBe(false);
    expect(third.chunks).toEqual(first.chunks);
    expect([opened, closed]).toEqual([2, 2]);
  });

  it('does not trust the cache once a chunk it names is gone', async () => {
    const { file } = makeImage('d.img');
    const cache: FilesCache = {};
    const first = await store(file, cache);
    fs.rmSync(chunkPath(repo, first.chunks[2]!));
    const again = await store(file, cache);
    expect(again.isCacheHit).toBe(false);
    expect(fs.existsSync(chunkPath(repo, first.chunks[2]!))).toBe(true);
  });

  it('sweeps the temporaries a killed writer left', async () => {
    const { file } = makeImage('e.img');
    const stored = await store(file);
    const sub = path.dirname(chunkPath(repo, stored.chunks[0]!));
    fs.writeFileSync(path.join(sub, '.tmp-dead'), 'half');
    fs.writeFileSync(path.join(repo.snapshotsDir, '.tmp-dead2'), 'half');
    expect(await sweepTemporaries(repo)).toBe(2);
    expect(await listChunks(repo)).toHaveLength(3);
  });
});

describe('manifests and verify', () => {
  it('finds a flipped byte anywhere in a manifest', () => {
    const text = Buffer.from(
      renderManifest(
        manifestOf(
          'g-1',
          'g',
          '/x.img',
          {
            size: 4,
            digest: 'd',
            chunks: [null],
            readBytes: 0,
            newChunks: 0,
            newBytes: 0,
            isCacheHit: false,
          },
          't',
        ),
      ),
    );
    expect(parseManifest(text).guest).toBe('g');
    for (const at of [0, 10, Math.floor(text.length / 2), text.length - 10, text.length - 2]) {
      const bad = Buffer.from(text);
      bad[at] = bad[at]! ^ 0x01;
      expect(() => parseManifest(bad), `byte ${at}`).toThrow(/damaged|digest|JSON|not a/);
    }
  });

  it('names the snapshot and disk of a damaged chunk and of a damaged manifest', async () => {
    const { file } = makeImage('f.img');
    const stored = await store(file);
    await writeManifest(repo, manifestOf('g-1', 'g', file, stored, '2026-01-01T00:00:00Z'));
    await writeManifest(repo, manifestOf('h-1', 'h', '/other.img', stored, '2026-01-01T00:00:00Z'));
    expect((await verifyRepository(repo, [])).problems).toEqual([]);
    const victim = chunkPath(repo, stored.chunks[2]!);
    const bytes = fs.readFileSync(victim);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0x10;
    fs.writeFileSync(victim, bytes);
    const report = await verifyRepository(repo, []);
    expect(report.problems.map((p) => [p.snapshot, p.disk, p.chunk])).toEqual([
      ['g-1', file, stored.chunks[2]],
      ['h-1', '/other.img', stored.chunks[2]],
    ]);
    expect((await verifyRepository(repo, ['g-1'])).problems).toHaveLength(1);
    const manifestFile = path.join(repo.snapshotsDir, 'h-1.json');
    const m = fs.readFileSync(manifestFile);
    m[20] = m[20]! ^ 0x02;
    fs.writeFileSync(manifestFile, m);
    const after = await verifyRepository(repo, ['h-1']);
    expect(after.problems[0]?.snapshot).toBe('h-1');
    expect(after.problems[0]?.message).toMatch(/h-1/);
  });

  it('reports repository paths that other users can read', async () => {
    expect((await verifyRepository(repo, [])).exposed).toEqual([]);
    fs.chmodSync(repo.snapshotsDir, 0o755);
    expect((await verifyRepository(repo, [])).exposed).toEqual([repo.snapshotsDir]);
  });

  it('restores an image bit for bit and sparsely, and refuses a damaged one', async () => {
    const { file } = makeImage('r.img');
    const stored = await store(file);
    const manifest = manifestOf('g-1', 'g', file, stored, 't');
    const out = path.join(dir, 'restored.img');
    const handle = await fs.promises.open(out, 'wx', 0o600);
    await restoreImage(repo, manifest.disks[0]!, handle, CHUNK);
    await handle.close();
    expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);
    // The zero chunk and the hole were not written: fewer blocks than the original's 4 data chunks + tail.
    expect(fs.statSync(out).blocks * 512).toBeLessThanOrEqual(4 * CHUNK + 4096);
    const tampered = { ...manifest.disks[0]!, chunks: [...stored.chunks].reverse() };
    const h2 = await fs.promises.open(path.join(dir, 'r2.img'), 'wx', 0o600);
    await expect(restoreImage(repo, tampered, h2, CHUNK)).rejects.toThrow(/digest/);
    await h2.close();
    expect(chunkTableDigest(stored.size, CHUNK, stored.chunks)).toBe(stored.digest);
  });
});

describe('prune', () => {
  it.each([
    [1, ['a-1', 'a-2', 'b-1']],
    [2, ['a-1', 'b-1']],
    [3, []],
  ])('with --keep-last %i forgets %j', (keep, forget) => {
    const m = (id: string, guest: string, time: string): Manifest =>
      ({ id, guest, time }) as unknown as Manifest;
    const all = [
      m('a-1', 'a', '1'),
      m('a-2', 'a', '2'),
      m('a-3', 'a', '3'),
      m('b-1', 'b', '1'),
      m('b-2', 'b', '2'),
    ];
    expect(choosePrune(all, keep).forget.sort()).toEqual(forget.filter((id) => id !== 'b-1' || keep < 2));
  });

  it('keeps the snapshots of other guests when given one', () => {
    const m = (id: string, guest: string, time: string): Manifest =>
      ({ id, guest, time }) as unknown as Manifest;
    const choice = choosePrune(
      [m('a-1', 'a', '1'), m('a-2', 'a', '2'), m('b-1', 'b', '1'), m('b-2', 'b', '2')],
      1,
      'a',
    );
    expect(choice.forget).toEqual(['a-1']);
  });

  it('frees only the chunks no remaining snapshot names', async () => {
    const { file } = makeImage('p.img');
    const one = await store(file);
    await writeManifest(repo, manifestOf('g-1', 'g', file, one, '2026-01-01T00:00:00Z'));
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, randomBytes(CHUNK), 0, CHUNK, 2 * CHUNK);
    fs.closeSync(fd);
    const two = await store(file);
    await writeManifest(repo, manifestOf('g-2', 'g', file, two, '2026-01-02T00:00:00Z'));
    expect(await listChunks(repo)).toHaveLength(4);
    const freed = await applyPrune(
      repo,
      choosePrune([await readManifest(repo, 'g-1'), await readManifest(repo, 'g-2')], 1).forget,
    );
    expect(freed.chunks).toBe(1);
    expect((await listChunks(repo)).sort()).toEqual([...new Set(two.chunks.filter(Boolean))].sort());
    expect((await verifyRepository(repo, [])).problems).toEqual([]);
  });
});

/**
 * An encrypted repository on small files: chunk names that do not reveal the content (not its
 * SHA-256, and another key gives other names), chunks and manifests that hold no plaintext, a
 * flipped byte or a chunk copied under another name found, a restore that gives the bytes back,
 * and the repository refused without its key, with a wrong key, or given a key it does not use.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkPath, listChunks, readChunk } from '../../src/backup/chunk-store.js';
import { readManifest, writeManifest, type Manifest } from '../../src/backup/manifest.js';
import {
  openOrCreateRepository,
  openRepository,
  type Repository,
  type RepoSecret,
} from '../../src/backup/repository.js';
import { restoreImage } from '../../src/backup/restore-image.js';
import { storeImage, type StoredImage } from '../../src/backup/store-image.js';
import { verifyRepository } from '../../src/backup/verify.js';
import { XenkitError } from '../../src/errors.js';
import { testManifest } from '../helpers/backup-fixtures.js';
import { makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

const CHUNK = 64 * 1024;
const secret = (bytes: Buffer): RepoSecret => ({ file: '/key', bytes });
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

let dir: string;
let key: RepoSecret;
let repo: Repository;

beforeEach(async () => {
  dir = makeTempDir('backup-enc');
  key = secret(randomBytes(32));
  repo = await openOrCreateRepository(path.join(dir, 'repo'), CHUNK, key);
});

afterEach(() => removeDir(dir));

/** Two distinct data chunks, the first one twice; text that compresses, to look for in the repository. */
function makeImage(): { file: string; chunks: Buffer[] } {
  const file = path.join(dir, 'disk.img');
  const a = Buffer.from('SECRET-PAYLOAD '.repeat(CHUNK / 15 + 1)).subarray(0, CHUNK);
  const b = randomBytes(CHUNK);
  fs.writeFileSync(file, Buffer.concat([a, b, a]));
  return { file, chunks: [a, b] };
}

async function store(r: Repository, file: string): Promise<StoredImage> {
  return storeImage(r, file, { dirs: new Set(), cache: {}, seen: new Set(), made: [] });
}

function manifestOf(file: string, stored: StoredImage): Manifest {
  const cfgText = "name = 'web1'\n# SECRET-CFG\n";
  return testManifest({
    id: 'web1-1',
    guest: 'web1',
    file,
    stored,
    time: '2026-01-01T00:00:00Z',
    chunkSize: CHUNK,
    cfgText,
  });
}

function allRepoBytes(r: Repository): Buffer {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else files.push(path.join(d, e.name));
    }
  };
  walk(r.dir);
  return Buffer.concat(files.map((f) => fs.readFileSync(f)));
}

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof XenkitError ? `${error.code} ${error.kind}` : String(error);
  }
};

describe('an encrypted repository', () => {
  it('names chunks by a keyed hash, stores them once, and holds no plaintext anywhere', async () => {
    const { file, chunks } = makeImage();
    const stored = await store(repo, file);
    expect(stored.chunks).toHaveLength(3);
    expect(stored.chunks[0]).toBe(stored.chunks[2]);
    expect((await listChunks(repo)).sort()).toEqual([stored.chunks[0], stored.chunks[1]].sort());
    for (const [i, data] of chunks.entries()) {
      expect(stored.chunks[i]).not.toBe(sha256(data));
      expect((await readChunk(repo, stored.chunks[i]!)).equals(data)).toBe(true);
    }
    await writeManifest(repo, manifestOf(file, stored));
    const everything = allRepoBytes(repo);
    expect(everything.includes('SECRET-PAYLOAD')).toBe(false);
    expect(everything.includes('SECRET-CFG')).toBe(false);
    expect(everything.includes(key.bytes)).toBe(false);
    expect((await readManifest(repo, 'web1-1')).cfgText).toContain('SECRET-CFG');
    // Another key, another repository: the same bytes get other names (no cross-repository confirmation).
    const other = await openOrCreateRepository(path.join(dir, 'other'), CHUNK, secret(randomBytes(32)));
    const again = await store(other, file);
    expect(again.chunks[0]).not.toBe(stored.chunks[0]);
  });

  it('finds a flipped byte and a chunk copied under another name; restores the rest bit for bit', async () => {
    const { file } = makeImage();
    const stored = await store(repo, file);
    const manifest = manifestOf(file, stored);
    await writeManifest(repo, manifest);
    const out = path.join(dir, 'restored.img');
    const handle = await fs.promises.open(out, 'wx', 0o600);
    await restoreImage(repo, manifest.disks[0]!, handle, CHUNK);
    await handle.close();
    expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);

    const [a, b] = [stored.chunks[0]!, stored.chunks[1]!];
    const bytesOfB = fs.readFileSync(chunkPath(repo, b));
    fs.copyFileSync(chunkPath(repo, a), chunkPath(repo, b));
    await expect(readChunk(repo, b)).rejects.toThrow(/authentication/);
    const flipped = Buffer.from(bytesOfB);
    flipped[flipped.length - 20] = flipped[flipped.length - 20]! ^ 0x01;
    fs.writeFileSync(chunkPath(repo, b), flipped);
    await expect(readChunk(repo, b)).rejects.toThrow(/authentication/);
    const report = await verifyRepository(repo, []);
    expect(report.problems.map((p) => [p.snapshot, p.chunk])).toEqual([['web1-1', b]]);
    const m = path.join(repo.snapshotsDir, 'web1-1.json');
    const sealed = fs.readFileSync(m);
    sealed[30] = sealed[30]! ^ 0x04;
    fs.writeFileSync(m, sealed);
    await expect(readManifest(repo, 'web1-1')).rejects.toThrow(
      /web1-1: the manifest fails its authentication/,
    );
  });

  it('is refused without its key, with another key, and a plain one is refused a key (usage errors)', async () => {
    const where = repo.dir;
    expect(openRepository(where, key).keys).toBeDefined();
    expect(codeOf(() => openRepository(where))).toBe('E_BACKUP_KEY usage');
    expect(codeOf(() => openRepository(where, secret(randomBytes(32))))).toBe('E_BACKUP_KEY usage');
    const plain = await openOrCreateRepository(path.join(dir, 'plain'), CHUNK);
    expect(plain.keys).toBeUndefined();
    expect(codeOf(() => openRepository(plain.dir, key))).toBe('E_BACKUP_KEY usage');
    const marker = JSON.parse(fs.readFileSync(path.join(where, 'xenkit-backup.json'), 'utf8')) as {
      encryption: Record<string, string>;
    };
    expect(Object.keys(marker.encryption).sort()).toEqual(['check', 'salt', 'scheme']);
    expect(marker.encryption['check']).not.toContain(key.bytes.toString('hex'));
  });
});

/**
 * A snapshot's manifest: `snapshots/ID.json`, two lines: the body as compact JSON, then
 * `sha256:HEX` of the first line's bytes, so any flipped byte in it is found. Written last, atomically:
 * a snapshot exists exactly when its manifest does.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { isTempName, writeDurably } from './durable-file.js';
import { openManifest, sealManifest } from './encryption.js';
import type { Repository } from './repository.js';

/** One disk image of a snapshot. */
export interface ManifestDisk {
  /** The image as the cfg names it (before any --root). */
  target: string;
  /** Its device in the guest (`xvda2`): the disk's role in the cfg. */
  vdev: string;
  format: string;
  /** Virtual size in bytes. */
  size: number;
  /**
   * The image's digest: SHA-256 of its chunk table (chunkTableDigest). Each chunk id is the
   * SHA-256 of its bytes (their HMAC in an encrypted repository), so this binds every byte of the
   * image without hashing the gigabytes of
   * zeros in its holes, which a plain SHA-256 of the image would have to (seconds per GiB here).
   */
  digest: string;
  /** One entry per chunk: its id, or null for an all-zero (or unallocated) chunk. */
  chunks: (string | null)[];
}

/** What a backup run stored (for `backup list` and the summary). */
export interface ManifestStats {
  /** Bytes of the images (their virtual sizes). */
  logicalBytes: number;
  /** Bytes read from the images (0 when the files cache knew them). */
  readBytes: number;
  /** Chunks this snapshot added to the repository, and their stored (compressed) bytes. */
  newChunks: number;
  newBytes: number;
  /** Disks whose chunk list came from the files cache. */
  cacheHits: number;
  ms: number;
}

export interface Manifest {
  format: 'xenkit-backup-snapshot';
  version: 1;
  id: string;
  guest: string;
  /** ISO time the backup started. */
  time: string;
  xenkitVersion: string;
  chunkSize: number;
  /** The cfg's path as xenkit names it without the root (`/etc/xen/NAME.cfg`) and its text. */
  cfgPath: string;
  cfgText: string;
  disks: ManifestDisk[];
  stats: ManifestStats;
  /** How a running guest's disks were taken at one moment (absent: the guest was stopped). */
  pointInTime?: { method: string; pausedMs: number; heldMs: number; copyMs: number };
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A new snapshot id: guest, UTC time to the second, 4 random hex digits (`web1-20261205T113200Z-3f9a`). */
export function newSnapshotId(guest: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${guest}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Whether `text` can be a snapshot id (one path component of safe characters). */
export function isSnapshotId(text: string): boolean {
  return ID_RE.test(text) && !text.endsWith('.json');
}

/** Where the manifest of snapshot `id` lives. */
export function manifestPath(repo: Repository, id: string): string {
  return path.join(repo.snapshotsDir, `${id}.json`);
}

/** SHA-256 over `size`, `chunkSize` and each chunk's id (64 zeros for an all-zero chunk), one per line. */
export function chunkTableDigest(
  size: number,
  chunkSize: number,
  chunks: readonly (string | null)[],
): string {
  const hash = createHash('sha256').update(`xenkit-chunk-table ${size} ${chunkSize}\n`);
  for (const id of chunks) hash.update(`${id ?? ZERO_ID}\n`);
  return hash.digest('hex');
}

const ZERO_ID = '0'.repeat(64);

/** The stored form of a manifest: body line, digest line. */
export function renderManifest(manifest: Manifest): string {
  const body = JSON.stringify(manifest);
  return `${body}\nsha256:${createHash('sha256').update(body).digest('hex')}\n`;
}

/** Parses a stored manifest; throws an Error saying what is wrong (damaged, wrong digest). */
export function parseManifest(stored: Buffer): Manifest {
  const newline = stored.indexOf(0x0a);
  if (newline < 0) throw new Error('manifest has no digest line');
  const body = stored.subarray(0, newline);
  const rest = stored.subarray(newline + 1).toString('latin1');
  const match = /^sha256:([0-9a-f]{64})\n$/.exec(rest);
  if (!match) throw new Error('manifest digest line is damaged');
  const actual = createHash('sha256').update(body).digest('hex');
  if (actual !== match[1])
    throw new Error(`manifest is damaged (body hashes to ${actual}, digest says ${match[1]})`);
  const parsed = JSON.parse(body.toString('utf8')) as Manifest;
  if (parsed.format !== 'xenkit-backup-snapshot' || parsed.version !== 1 || !Array.isArray(parsed.disks)) {
    throw new Error('manifest is not a xenkit-backup-snapshot version 1');
  }
  return parsed;
}

/** Writes the manifest (the snapshot's commit point). */
export async function writeManifest(repo: Repository, manifest: Manifest): Promise<string> {
  const file = manifestPath(repo, manifest.id);
  const text = renderManifest(manifest);
  await writeDurably(file, repo.keys ? sealManifest(repo.keys, manifest.id, text) : text);
  return file;
}

/** Reads and checks the manifest of snapshot `id`; throws an Error naming it when damaged. */
export async function readManifest(repo: Repository, id: string): Promise<Manifest> {
  const stored = await fs.readFile(manifestPath(repo, id));
  try {
    const manifest = parseManifest(repo.keys ? openManifest(repo.keys, id, stored) : stored);
    if (manifest.id !== id) throw new Error(`manifest names snapshot ${manifest.id}`);
    return manifest;
  } catch (error) {
    throw new Error(`snapshot ${id}: ${(error as Error).message}`, { cause: error });
  }
}

/** The ids of every snapshot in the repository, oldest first (ids sort by time within a guest). */
export async function listSnapshotIds(repo: Repository): Promise<string[]> {
  const names = await fs.readdir(repo.snapshotsDir);
  return names
    .filter((n) => !isTempName(n) && n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .sort();
}

/** Throws E_BAD_SNAPSHOT (usage) when `id` cannot be a snapshot id. */
export function assertSnapshotId(id: string): string {
  if (!isSnapshotId(id)) {
    throw usageError(
      'E_BAD_SNAPSHOT',
      `"${id}" is not a snapshot id`,
      'xenkit backup list shows the snapshots and their ids',
    );
  }
  return id;
}

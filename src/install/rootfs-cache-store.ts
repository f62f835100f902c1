/**
 * The on-disk root-tree cache: one directory per key under `<cacheDir>/rootfs/`, holding the
 * pristine root filesystem image (`root.img`), `manifest.json` and a `last-used` stamp. An entry
 * is built in a hidden directory beside the others, its manifest written last, and published by
 * one rename, so a reader sees a whole entry or none; an entry without a readable manifest, or
 * whose image has another size, is never used.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { XenkitError } from '../errors.js';
import { acquireLock, type LockHandle } from '../plan/lock-file.js';
import { ensureOwnDir } from '../plan/own-dir.js';
import { ROOTFS_CACHE_FORMAT, type RootfsKeyFields } from './rootfs-cache-key.js';

export const MANIFEST_FILE = 'manifest.json';
export const IMAGE_FILE = 'root.img';
export const LAST_USED_FILE = 'last-used';

/** What a published entry holds, written last. */
export interface RootfsManifest {
  format: number;
  key: string;
  fields: RootfsKeyFields;
  /** ISO time the entry was published. */
  createdAt: string;
  /** How long the bootstrap and the image took, ms. */
  buildMs: number;
  image: {
    file: string;
    fs: 'ext4';
    /** Apparent size in bytes. */
    bytes: number;
    /** sha256 of the whole file, holes read as zeros (what `sha256sum root.img` prints). */
    sha256: string;
    /** CRC-32 over every chunk that is not all zeros, each preceded by its index (checked while copying). */
    dataCrc32: number;
    chunkBytes: number;
  };
  /** Facts of the installed tree, reported as the install result of a guest made from the entry. */
  tree: {
    packagesInstalled: number;
    treeBytes: number;
    kernel?: string;
    initrd?: string;
    sanitized: string[];
  };
}

/** One entry as found on disk. */
export interface RootfsEntry {
  key: string;
  dir: string;
  imagePath: string;
  manifest: RootfsManifest;
  /** When a guest was last made from it (the entry's creation when never). */
  lastUsed: Date;
  /** Bytes the image occupies on disk. */
  allocatedBytes: number;
}

/** Why an entry cannot be used. */
export type EntryProblem = { key: string; dir: string; reason: string };

/** The directory of the root-tree cache. */
export function rootfsCacheRoot(cacheDir: string): string {
  return path.join(cacheDir, 'rootfs');
}

/** The directory of the entry `key`. */
export function entryDir(root: string, key: string): string {
  return path.join(root, key);
}

function isManifest(value: unknown, key: string): value is RootfsManifest {
  const m = value as Partial<RootfsManifest> | null;
  return (
    !!m &&
    m.format === ROOTFS_CACHE_FORMAT &&
    m.key === key &&
    typeof m.fields === 'object' &&
    typeof m.createdAt === 'string' &&
    typeof m.image?.bytes === 'number' &&
    typeof m.image.sha256 === 'string' &&
    typeof m.image.dataCrc32 === 'number' &&
    typeof m.image.chunkBytes === 'number' &&
    m.image.file === IMAGE_FILE &&
    typeof m.tree?.packagesInstalled === 'number'
  );
}

/**
 * Reads the entry `key` and checks what can be checked without reading the image: the manifest
 * (present, complete, this format and key) and the image's size. The data checksum is checked
 * while the image is copied (copyImageChecked) and by `xenkit cache verify`.
 */
export async function readEntry(root: string, key: string): Promise<RootfsEntry | EntryProblem> {
  const dir = entryDir(root, key);
  const problem = (reason: string): EntryProblem => ({ key, dir, reason });
  let text: string;
  try {
    text = await readFile(path.join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    return problem('no manifest (an unfinished or interrupted build)');
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return problem('the manifest is not valid JSON');
  }
  if (!isManifest(manifest, key)) return problem('the manifest is incomplete or of another format');
  const imagePath = path.join(dir, IMAGE_FILE);
  const st = await stat(imagePath).catch(() => undefined);
  if (!st?.isFile()) return problem(`${IMAGE_FILE} is missing`);
  if (st.size !== manifest.image.bytes) {
    return problem(`${IMAGE_FILE} has ${st.size} bytes, the manifest says ${manifest.image.bytes}`);
  }
  const used = await stat(path.join(dir, LAST_USED_FILE)).catch(() => undefined);
  return {
    key,
    dir,
    imagePath,
    manifest,
    lastUsed: used?.mtime ?? new Date(manifest.createdAt),
    allocatedBytes: st.blocks * 512,
  };
}

/** Whether `readEntry` found a usable entry. */
export function isEntry(found: RootfsEntry | EntryProblem): found is RootfsEntry {
  return 'manifest' in found;
}

/** Every entry directory under `root` (hidden build directories excluded), usable or not. */
export async function listEntries(root: string): Promise<(RootfsEntry | EntryProblem)[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  const keys = names.filter((n) => /^[0-9a-f]{32}$/.test(n)).sort();
  return Promise.all(keys.map((key) => readEntry(root, key)));
}

/** Leftovers of builds that died (`.build-*`, `.old-*`), for prune. */
export async function listLeftovers(root: string): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names.filter((n) => /^\.(build|old)-/.test(n)).map((n) => path.join(root, n));
}

/** A fresh hidden directory under `root` to build the entry `key` in. */
export async function makeBuildDir(root: string, key: string): Promise<string> {
  ensureOwnDir(root, 0o700);
  const dir = path.join(root, `.build-${key}-${process.pid}-${randomBytes(3).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Writes `file` and flushes it to disk before returning. */
async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'w', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Publishes the entry built in `buildDir` (its image complete and synced): writes the manifest
 * last, then renames the directory into place. An older entry of the same key (stale or corrupt)
 * is renamed aside first and removed after, so the key never points at half of either.
 */
export async function publishEntry(
  root: string,
  buildDir: string,
  manifest: RootfsManifest,
): Promise<string> {
  await writeDurably(path.join(buildDir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
  const dir = entryDir(root, manifest.key);
  const old = path.join(root, `.old-${manifest.key}-${randomBytes(3).toString('hex')}`);
  const hadOld = await rename(dir, old).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  await rename(buildDir, dir);
  await syncDir(root);
  if (hadOld) await rm(old, { recursive: true, force: true });
  return dir;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Records that a guest was just made from the entry (for `list` and `prune --older-than`). */
export async function touchEntry(entry: { dir: string }, now = new Date()): Promise<void> {
  const file = path.join(entry.dir, LAST_USED_FILE);
  await writeFile(file, `${now.toISOString()}\n`).catch(() => undefined);
  await utimes(file, now, now).catch(() => undefined);
}

/** Removes the entry directory `dir` (renamed aside first, so no reader sees it half-removed). */
export async function removeEntryDir(root: string, dir: string): Promise<void> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st) return;
  const aside = path.join(
    root,
    `.old-${path.basename(dir).replace(/^\./, '')}-${randomBytes(3).toString('hex')}`,
  );
  await rename(dir, aside);
  await rm(aside, { recursive: true, force: true });
}

/**
 * Takes the build lock of `key`, waiting (and calling `onWait` once) while another xenkit process
 * builds the same entry; a lock whose holder died is taken over. Cancellable through `signal`.
 */
export async function lockEntry(
  lockDir: string,
  key: string,
  signal: AbortSignal,
  onWait: (holder: string) => void = () => undefined,
): Promise<LockHandle> {
  const file = path.join(lockDir, `rootfs-${key}.lock`);
  let announced = false;
  for (;;) {
    try {
      return await acquireLock(file, `root-tree cache entry ${key}`);
    } catch (error) {
      if ((error as { code?: string }).code !== 'E_LOCKED') throw error;
      if (!announced) {
        announced = true;
        onWait(
          await readFile(file, 'utf8').then(
            (t) => t.trim(),
            () => '?',
          ),
        );
      }
    }
    if (signal.aborted) {
      throw new XenkitError('E_CANCELLED', `cancelled while waiting for root-tree cache entry ${key}`, {
        kind: 'cancelled',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * The files cache (borg's model): for each image backed up, its size, mtime, ctime, inode and
 * device then, with the chunk list that came out. An image whose stat is
 * unchanged is taken as unchanged: its chunk list is reused without reading a byte, as long as
 * every chunk it names is still in the repository (prune may have freed some).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { writeDurably } from './durable-file.js';
import type { Repository } from './repository.js';

export interface FileStamp {
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  dev: string;
}

export interface CachedImage {
  stamp: FileStamp;
  /** The stamps of the files a qcow2 image reads through to (its backing chain), in order. */
  backing?: FileStamp[];
  /** The size the guest sees, when it is not the file's (qcow2). */
  size?: number;
  chunkSize: number;
  chunks: (string | null)[];
}

export type FilesCache = Record<string, CachedImage>;

function cacheFile(repo: Repository): string {
  return path.join(repo.cacheDir, 'files.json');
}

/** The stat of `file` as the cache compares it (nanosecond times, as strings). */
export async function stampOf(file: string): Promise<FileStamp> {
  const st = await fs.stat(file, { bigint: true });
  return {
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    ino: String(st.ino),
    dev: String(st.dev),
  };
}

/** Whether two stamps say the same file, unchanged. */
export function isSameStamp(a: FileStamp, b: FileStamp): boolean {
  return (
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.ino === b.ino &&
    a.dev === b.dev
  );
}

/** Whether two lists of stamps (a backing chain) say the same files, unchanged. */
export function isSameChain(a: readonly FileStamp[] = [], b: readonly FileStamp[] = []): boolean {
  return a.length === b.length && a.every((stamp, i) => isSameStamp(stamp, b[i]!));
}

/** The cache; empty when missing or unreadable (it is only ever a shortcut). */
export async function loadFilesCache(repo: Repository): Promise<FilesCache> {
  try {
    const parsed = JSON.parse(await fs.readFile(cacheFile(repo), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as FilesCache) : {};
  } catch {
    return {};
  }
}

/** Writes the cache durably. */
export async function saveFilesCache(repo: Repository, cache: FilesCache): Promise<void> {
  await writeDurably(cacheFile(repo), JSON.stringify(cache));
}

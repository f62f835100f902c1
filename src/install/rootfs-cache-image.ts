/**
 * The pristine root filesystem image of a cache entry: made once from a bootstrapped tree with
 * `mke2fs -d`, checksummed, and copied sparsely into each new guest's disk image. Copying the
 * image (about 0.5-1.5 s for 700 MB of data here) replaces `mke2fs -d` of the tree (5-7 s).
 */
import { createHash, randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { XenkitError } from '../errors.js';
import { isAllZero } from '../model/zero-bytes.js';
import { fixRootDirectory } from '../storage/fs-tune.js';
import { hasDefaultRoot, scanTree } from '../storage/tree-scan.js';
import type { ExecOptions } from '../tools/exec.js';
import { makeFs } from '../tools/mkfs.js';

/** The unit of the data checksum and of reads and writes. */
export const IMAGE_CHUNK_BYTES = 1024 * 1024;
/** Zero runs at least this long (and aligned) stay holes in a copy: the ext4 block size. */
const HOLE_GRANULE = 4096;
const MIB = 1024 * 1024;
/** The journal every cached image gets: what mke2fs picks for 2-16 GB, the usual guest sizes. */
const JOURNAL_MIB = 64;

/** What a checksum pass found. */
export interface ImageChecksums {
  bytes: number;
  sha256: string;
  dataCrc32: number;
}

/**
 * The size of the pristine image for a tree occupying `allocatedBytes`: the data, 12 % for
 * directories, inode tables and bitmaps, the journal and some slack, rounded to 16 MiB (at least
 * 256 MiB). A guest disk can be any size from this up (resize2fs grows it).
 */
export function pristineImageBytes(allocatedBytes: number, growth = 1): number {
  const raw = (allocatedBytes * 1.12 + (JOURNAL_MIB + 48) * MIB) * growth;
  // mke2fs refuses a journal of more than half the filesystem: tiny trees get 4x the journal.
  return Math.max(Math.ceil(raw / (16 * MIB)) * 16 * MIB, 4 * JOURNAL_MIB * MIB);
}

/** The mke2fs argv for the pristine image (made through makeFs's command form). */
export function pristineMkfsArgv(tree: string, image: string, uuid: string): string[] {
  return [
    'mkfs.ext4',
    '-F',
    '-q',
    '-J',
    `size=${JOURNAL_MIB}`,
    '-U',
    uuid,
    '-L',
    'xenkit-rootfs',
    '-d',
    tree,
    image,
  ];
}

/**
 * Makes the ext4 image `image` holding `tree`, sized just above the tree; retries once with more
 * room when the estimate was short (trees of many small files). Returns its size in bytes.
 */
export async function buildPristineImage(tree: string, image: string, exec: ExecOptions): Promise<number> {
  const facts = await scanTree(tree);
  let lastError: unknown;
  for (const growth of [1, 1.5]) {
    const bytes = pristineImageBytes(facts.allocatedBytes, growth);
    const handle = await open(image, 'w', 0o600);
    await handle.truncate(bytes);
    await handle.close();
    const argv = pristineMkfsArgv(tree, image, randomUUID());
    try {
      await makeFs({ fs: 'ext4', device: image, command: argv.slice(0, -1) }, exec);
      if (!hasDefaultRoot(facts)) await fixRootDirectory(image, facts.root, exec);
      return bytes;
    } catch (error) {
      lastError = error;
      const text = error instanceof XenkitError ? `${error.message}\n${error.details ?? ''}` : '';
      if (!/Could not allocate|No space|too small/i.test(text)) throw error;
    }
  }
  throw lastError;
}

/** Folds one chunk into the data CRC: all-zero chunks are skipped, others count with their index. */
function foldChunk(crc: number, index: number, chunk: Buffer): number {
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(index));
  return crc32(chunk, crc32(header, crc));
}

function cancelled(what: string): XenkitError {
  return new XenkitError('E_CANCELLED', `cancelled while ${what}`, { kind: 'cancelled' });
}

/**
 * Reads `file` chunk by chunk, keeping up to 4 reads in flight, and hands each chunk to `each`
 * in order. The buffer passed to `each` is only valid until the promise it returns settles.
 */
async function forEachChunk(
  handle: FileHandle,
  bytes: number,
  signal: AbortSignal | undefined,
  what: string,
  each: (chunk: Buffer, index: number, offset: number) => Promise<void> | void,
): Promise<void> {
  const count = Math.ceil(bytes / IMAGE_CHUNK_BYTES);
  const depth = 4;
  const buffers = Array.from({ length: depth }, () => Buffer.allocUnsafe(IMAGE_CHUNK_BYTES));
  const reads: Promise<number>[] = [];
  const start = (i: number): void => {
    const offset = i * IMAGE_CHUNK_BYTES;
    const length = Math.min(IMAGE_CHUNK_BYTES, bytes - offset);
    reads[i % depth] = handle.read(buffers[i % depth] as Buffer, 0, length, offset).then((r) => r.bytesRead);
  };
  for (let i = 0; i < Math.min(depth, count); i++) start(i);
  for (let i = 0; i < count; i++) {
    if (signal?.aborted) throw cancelled(what);
    const got = await (reads[i % depth] as Promise<number>);
    const expected = Math.min(IMAGE_CHUNK_BYTES, bytes - i * IMAGE_CHUNK_BYTES);
    if (got !== expected) throw new XenkitError('E_CACHE_READ', `short read while ${what}`);
    await each((buffers[i % depth] as Buffer).subarray(0, got), i, i * IMAGE_CHUNK_BYTES);
    if (i + depth < count) start(i + depth);
  }
}

/** Computes both checksums of an image (a full read): at build time and for `xenkit cache verify`. */
export async function checksumImage(file: string, signal?: AbortSignal): Promise<ImageChecksums> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const sha = createHash('sha256');
    let crc = 0;
    await forEachChunk(handle, size, signal, `checksumming ${file}`, (chunk, index) => {
      sha.update(chunk);
      if (!isAllZero(chunk)) crc = foldChunk(crc, index, chunk);
    });
    return { bytes: size, sha256: sha.digest('hex'), dataCrc32: crc };
  } finally {
    await handle.close();
  }
}

/** The data CRC of an image (no sha256: the fast check before a tree is copied out of it). */
export async function dataCrcOf(
  file: string,
  signal?: AbortSignal,
): Promise<{ bytes: number; dataCrc32: number }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    let crc = 0;
    await forEachChunk(handle, size, signal, `checking ${file}`, (chunk, index) => {
      if (!isAllZero(chunk)) crc = foldChunk(crc, index, chunk);
    });
    return { bytes: size, dataCrc32: crc };
  } finally {
    await handle.close();
  }
}

/** The non-zero runs of `chunk`, in HOLE_GRANULE units, as [start, end) byte offsets. */
export function dataRuns(chunk: Buffer): [number, number][] {
  const runs: [number, number][] = [];
  let runStart = -1;
  for (let at = 0; at < chunk.length; at += HOLE_GRANULE) {
    const end = Math.min(at + HOLE_GRANULE, chunk.length);
    const zero = isAllZero(chunk.subarray(at, end));
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      runs.push([runStart, at]);
      runStart = -1;
    }
  }
  if (runStart >= 0) runs.push([runStart, chunk.length]);
  return runs;
}

/**
 * Copies the image at `source` into `target` (an existing file at least as large, holes where
 * the copy has none of its own data) at the same offsets, leaving zero blocks as holes, and
 * returns the data CRC of what it read. The caller compares it with the manifest: the copy is
 * only good when they match. `source` is opened once, so an entry replaced meanwhile is read whole.
 */
export async function copyImageChecked(
  source: string,
  target: string,
  signal?: AbortSignal,
): Promise<{ bytes: number; dataCrc32: number }> {
  const input = await open(source, 'r');
  let output: FileHandle | undefined;
  try {
    const { size } = await input.stat();
    output = await open(target, 'r+');
    const out = output;
    let crc = 0;
    await forEachChunk(input, size, signal, `copying ${source}`, async (chunk, index, offset) => {
      if (isAllZero(chunk)) return;
      crc = foldChunk(crc, index, chunk);
      await Promise.all(
        dataRuns(chunk).map(([from, to]) => out.write(chunk, from, to - from, offset + from)),
      );
    });
    return { bytes: size, dataCrc32: crc };
  } finally {
    await output?.close();
    await input.close();
  }
}

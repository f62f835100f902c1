/**
 * Writes one disk of a snapshot back as a sparse image: the file is sized first (a hole), then
 * each stored chunk is written without its all-zero 64 KiB blocks, so holes stay holes. Every
 * chunk is checked against its id, and the chunk table against the manifest's digest.
 */
import type { FileHandle } from 'node:fs/promises';
import { isAllZero } from '../model/zero-bytes.js';
import { cancelledIfAborted } from './cancel.js';
import { readChunk } from './chunk-store.js';
import { chunkTableDigest, type ManifestDisk } from './manifest.js';
import type { Repository } from './repository.js';

/** The unit holes are kept in: an all-zero block of this size is skipped, not written. */
export const SPARSE_BLOCK = 64 * 1024;
/**
 * Chunks read and decompressed ahead of the one being written. One: decompression runs on this
 * thread (chunk-codec.ts) and is faster than the writes; each more chunk ahead is 4 MiB more
 * memory that V8 frees late (peak RSS of the bench restore 158 MB with two ahead, 149 with one).
 */
const READ_AHEAD = 1;

/** One chunk of a disk, in order: its bytes (checked against its id), or null for all zeros. */
export interface DiskChunk {
  offset: number;
  length: number;
  data: Buffer | null;
}

/**
 * The chunks of `disk` in order, read and decompressed a few ahead (thread pool). The chunk table
 * is checked against the manifest's digest first, each chunk against its id as it is read; a
 * mismatch throws an Error naming the disk or chunk.
 */
export async function* readDiskChunks(
  repo: Repository,
  disk: ManifestDisk,
  chunkSize: number,
  signal?: AbortSignal,
): AsyncGenerator<DiskChunk> {
  const digest = chunkTableDigest(disk.size, chunkSize, disk.chunks);
  if (digest !== disk.digest) throw new Error(`the chunk table of ${disk.target} does not match its digest`);
  if (disk.chunks.length !== Math.ceil(disk.size / chunkSize)) {
    throw new Error(`${disk.target} has ${disk.chunks.length} chunks for ${disk.size} bytes`);
  }
  const reads = new Map<number, Promise<Buffer>>();
  const startRead = (i: number): void => {
    const id = disk.chunks[i];
    if (i < disk.chunks.length && id) reads.set(i, readChunk(repo, id));
  };
  for (let i = 0; i < READ_AHEAD; i += 1) startRead(i);
  try {
    for (const [i, id] of disk.chunks.entries()) {
      cancelledIfAborted(signal, `reading ${disk.target}`);
      startRead(i + READ_AHEAD);
      const offset = i * chunkSize;
      const length = Math.min(chunkSize, disk.size - offset);
      if (id === null) {
        yield { offset, length, data: null };
        continue;
      }
      const data = await reads.get(i)!;
      reads.delete(i);
      if (data.length !== length)
        throw new Error(`chunk ${id} has ${data.length} bytes, the disk needs ${length} there`);
      yield { offset, length, data };
    }
  } finally {
    await Promise.allSettled(reads.values());
  }
}

/**
 * Calls `write` for each run of adjacent blocks of `data` that are not all zeros (its offset
 * within `data`): one write per run, not per block.
 */
export async function forEachDataBlock(
  data: Buffer,
  write: (block: Buffer, at: number) => Promise<void>,
): Promise<void> {
  let start = -1;
  for (let at = 0; at <= data.length; at += SPARSE_BLOCK) {
    const block = data.subarray(at, Math.min(at + SPARSE_BLOCK, data.length));
    const isData = block.length > 0 && !isAllZero(block);
    if (isData && start < 0) start = at;
    if (!isData && start >= 0) {
      await write(data.subarray(start, at), start);
      start = -1;
    }
  }
  if (start >= 0) await write(data.subarray(start), start);
}

/** Writes the chunks of `disk` into the open, empty `handle` (a file, a raw view of a new image, or a zeroed new volume); throws an Error on a damaged chunk or hash. */
export async function restoreImage(
  repo: Repository,
  disk: ManifestDisk,
  handle: FileHandle,
  chunkSize: number,
  signal?: AbortSignal,
): Promise<{ writtenBytes: number }> {
  // A raw view of a new qcow2 has its size already (and cannot be resized); a new volume is a
  // device, as large as LVM made it (whole extents), and zeroed already.
  const stat = await handle.stat();
  if (stat.isFile() && stat.size !== disk.size) await handle.truncate(disk.size);
  let writtenBytes = 0;
  for await (const chunk of readDiskChunks(repo, disk, chunkSize, signal)) {
    if (chunk.data === null) continue;
    await forEachDataBlock(chunk.data, async (block, at) => {
      await handle.write(block, 0, block.length, chunk.offset + at);
      writtenBytes += block.length;
    });
  }
  await handle.sync();
  return { writtenBytes };
}

/**
 * Writes one disk of a snapshot back as a sparse image: the file is sized first (a hole), then
 * each stored chunk is written without its all-zero 64 KiB blocks, so holes stay holes. Every
 * chunk is checked against its id, and the chunk table against the manifest's digest.
 */
import type { FileHandle } from 'node:fs/promises';
import { cancelledIfAborted } from './cancel.js';
import { readChunk } from './chunk-store.js';
import { chunkTableDigest, type ManifestDisk } from './manifest.js';
import type { Repository } from './repository.js';

const BLOCK = 64 * 1024;
const READ_AHEAD = 2;

/** Writes the chunks of `disk` into the open, empty `handle`; throws an Error on a damaged chunk or hash. */
export async function restoreImage(
  repo: Repository,
  disk: ManifestDisk,
  handle: FileHandle,
  chunkSize: number,
  signal?: AbortSignal,
): Promise<{ writtenBytes: number }> {
  const digest = chunkTableDigest(disk.size, chunkSize, disk.chunks);
  if (digest !== disk.digest) throw new Error(`the chunk table of ${disk.target} does not match its digest`);
  if (disk.chunks.length !== Math.ceil(disk.size / chunkSize)) {
    throw new Error(`${disk.target} has ${disk.chunks.length} chunks for ${disk.size} bytes`);
  }
  await handle.truncate(disk.size);
  const zero = Buffer.alloc(chunkSize);
  const zeroBlock = zero.subarray(0, BLOCK);
  let writtenBytes = 0;
  // Chunks are read and decompressed a few ahead (thread pool), written and hashed in order.
  const reads = new Map<number, Promise<Buffer>>();
  const startRead = (i: number): void => {
    const id = disk.chunks[i];
    if (i < disk.chunks.length && id) reads.set(i, readChunk(repo, id));
  };
  for (let i = 0; i < READ_AHEAD; i += 1) startRead(i);
  try {
    for (const [i, id] of disk.chunks.entries()) {
      cancelledIfAborted(signal, `restore of ${disk.target}`);
      startRead(i + READ_AHEAD);
      const offset = i * chunkSize;
      const length = Math.min(chunkSize, disk.size - offset);
      if (id === null) continue;
      const data = await reads.get(i)!;
      reads.delete(i);
      if (data.length !== length)
        throw new Error(`chunk ${id} has ${data.length} bytes, the disk needs ${length} there`);
      for (let at = 0; at < length; at += BLOCK) {
        const block = data.subarray(at, Math.min(at + BLOCK, length));
        if (block.equals(block.length === BLOCK ? zeroBlock : zero.subarray(0, block.length))) continue;
        await handle.write(block, 0, block.length, offset + at);
        writtenBytes += block.length;
      }
    }
  } finally {
    await Promise.allSettled(reads.values());
  }
  await handle.sync();
  return { writtenBytes };
}

/**
 * Backs up one image file into the chunk store: read in fixed-size chunks, all-zero chunks kept
 * as nothing, every other chunk hashed and stored once. Chunks that lie wholly in a hole of the
 * file (its extent map, see tools/filefrag.ts) are not read at all; where no map is to be had,
 * every chunk is read and an all-zero one found by one memcmp. An image that is not raw (qcow2)
 * is read through a raw view of what the guest sees (`open`), its holes from the image's own map.
 * A block device (an LVM volume) has no extent map and no stat that tells a change: every chunk
 * of it is read and hashed on every backup, and only chunks the repository lacks are stored.
 */
import fs from 'node:fs/promises';
import type { DataRange } from '../tools/filefrag.js';
import { cancelledIfAborted } from './cancel.js';
import { chunkIdOf, hasChunk, putChunk } from './chunk-store.js';
import { chunkTableDigest } from './manifest.js';
import { isSameChain, isSameStamp, stampOf, type FileStamp, type FilesCache } from './files-cache.js';
import type { Repository } from './repository.js';

/**
 * How many chunks are compressed and written at once (on libuv's thread pool), beside the reading
 * and hashing on this thread. On the 2-CPU bench host two made the first backup of the bench
 * guest about a quarter faster than one (6.9 and 12.2 s against 10.0 and 14.9 s, alternated at
 * load 5-6) but peaked at 156-166 MB RSS against 144-147 MB (each compressing thread keeps a
 * malloc arena); four gave 187 MB. One keeps every backup command under 150 MB, and the first
 * backup about 3x faster than tar -cSzf by that estimate (4.2x with two, bench/RESULTS.md).
 */
const IN_FLIGHT = 1;

export interface StoredImage {
  size: number;
  digest: string;
  chunks: (string | null)[];
  readBytes: number;
  newChunks: number;
  newBytes: number;
  isCacheHit: boolean;
}

export interface StoreImageOptions {
  signal?: AbortSignal;
  /** Directories that got new chunks (to fsync before the manifest). */
  dirs: Set<string>;
  /** The files cache, read and updated. */
  cache: FilesCache;
  /** Chunk ids put by this run so far (shared between the images of one run). */
  seen: Set<string>;
  /** Finds the file's data ranges (asked only when the file must be read); undefined reads every chunk. */
  mapData?: () => Promise<DataRange[] | undefined>;
  /** Chunk ids this run added to the repository (for its undo). */
  made: string[];
  /** Files the image reads through to (a qcow2's backing chain): changed, the image is read again. */
  backing?: readonly string[];
  /**
   * Opens the guest-visible bytes of a non-raw image as a raw file (asked only when it must be
   * read); without it `file` itself is read.
   */
  open?: () => Promise<RawImageView>;
  /**
   * `file` is a block device of this many bytes (its stat says 0). The files cache never applies
   * to a device: its mtime and ctime are the device node's, not of the data (a guest writing
   * through the device changes neither), so nothing short of reading it says "unchanged".
   */
  deviceSize?: number;
}

/** A raw view of an image: the file to read, its data ranges, and how to close it. */
export interface RawImageView {
  path: string;
  ranges: DataRange[] | undefined;
  close: () => Promise<void>;
}

const stampsOf = (files: readonly string[] = []): Promise<FileStamp[]> => Promise.all(files.map(stampOf));

/** Stores `file`'s chunks (or reuses the cache's list when the file is unchanged). */
export async function storeImage(
  repo: Repository,
  file: string,
  options: StoreImageOptions,
): Promise<StoredImage> {
  const before = await stampOf(file);
  const backingBefore = await stampsOf(options.backing);
  const cached = options.deviceSize === undefined ? options.cache[file] : undefined;
  if (
    cached &&
    cached.chunkSize === repo.chunkSize &&
    isSameStamp(cached.stamp, before) &&
    isSameChain(cached.backing, backingBefore) &&
    cached.chunks.every((id) => id === null || options.seen.has(id) || hasChunk(repo, id))
  ) {
    const size = cached.size ?? Number(before.size);
    return {
      size,
      digest: chunkTableDigest(size, repo.chunkSize, cached.chunks),
      chunks: cached.chunks,
      readBytes: 0,
      newChunks: 0,
      newBytes: 0,
      isCacheHit: true,
    };
  }
  const view: RawImageView = options.open
    ? await options.open()
    : { path: file, ranges: await options.mapData?.(), close: () => Promise.resolve() };
  try {
    return await storeView(repo, file, view, { ...options, before, backingBefore });
  } finally {
    await view.close();
  }
}

async function storeView(
  repo: Repository,
  file: string,
  view: RawImageView,
  options: StoreImageOptions & { before: FileStamp; backingBefore: FileStamp[] },
): Promise<StoredImage> {
  const { before, backingBefore } = options;
  const ranges = view.ranges;
  const size =
    view.path === file ? (options.deviceSize ?? Number(before.size)) : (await fs.stat(view.path)).size;
  const chunkSize = repo.chunkSize;
  const zero = Buffer.alloc(chunkSize);
  const count = Math.ceil(size / chunkSize);
  const chunks: (string | null)[] = new Array<string | null>(count).fill(null);
  const lengthOf = (i: number): number => Math.min(chunkSize, size - i * chunkSize);
  // Chunks wholly in a hole are not read at all.
  const wanted: number[] = [];
  for (let i = 0; i < count; i += 1) {
    if (!ranges || overlapsData(ranges, i * chunkSize, i * chunkSize + lengthOf(i))) wanted.push(i);
  }
  // Buffers are reused once a chunk is hashed (or stored): a fresh 4 MiB buffer per chunk kept
  // V8's collector busy for a tenth of an incremental backup's time.
  const pool: Buffer[] = [];
  const pending = new Set<Promise<void>>();
  let failure: unknown;
  let newChunks = 0;
  let newBytes = 0;
  let readBytes = 0;
  const handle = await fs.open(view.path, 'r');
  const readChunkAt = async (i: number): Promise<{ i: number; whole: Buffer; data: Buffer; got: number }> => {
    const whole = pool.pop() ?? Buffer.allocUnsafeSlow(chunkSize);
    const length = lengthOf(i);
    const data = whole.subarray(0, length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await handle.read(data, got, length - got, i * chunkSize + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < length) data.fill(0, got);
    return { i, whole, data, got };
  };
  // The next chunk is read (on libuv's pool) while this one is hashed.
  let next = wanted.length > 0 ? readChunkAt(wanted[0]!) : undefined;
  try {
    for (let k = 0; k < wanted.length; k += 1) {
      cancelledIfAborted(options.signal, `backup of ${file}`);
      if (failure) throw failure;
      const { i, whole, data, got } = await next!;
      next = k + 1 < wanted.length ? readChunkAt(wanted[k + 1]!) : undefined;
      readBytes += got;
      if (data.equals(data.length === chunkSize ? zero : zero.subarray(0, data.length))) {
        pool.push(whole);
        continue;
      }
      const id = chunkIdOf(repo, data);
      chunks[i] = id;
      if (options.seen.has(id)) {
        pool.push(whole);
        continue;
      }
      options.seen.add(id);
      const job = putChunk(repo, id, data, options.dirs)
        .then((r) => {
          if (r.stored > 0) {
            options.made.push(id);
            newChunks += 1;
            newBytes += r.stored;
          }
        })
        .catch((error: unknown) => {
          options.seen.delete(id);
          failure ??= error;
        })
        .finally(() => {
          pending.delete(job);
          pool.push(whole);
        });
      pending.add(job);
      if (pending.size >= IN_FLIGHT) await Promise.race(pending);
    }
    await Promise.all(pending);
    if (failure) throw failure;
  } finally {
    await next?.catch(() => undefined);
    await Promise.allSettled(pending);
    await handle.close();
  }
  const after = await stampOf(file);
  const backingAfter = await stampsOf(options.backing);
  // Cached only when nothing changed the file while it was read.
  if (
    options.deviceSize === undefined &&
    isSameStamp(before, after) &&
    isSameChain(backingBefore, backingAfter)
  ) {
    options.cache[file] = {
      stamp: after,
      ...(backingAfter.length > 0 ? { backing: backingAfter } : {}),
      ...(size !== Number(after.size) ? { size } : {}),
      chunkSize,
      chunks,
    };
  } else delete options.cache[file];
  return {
    size,
    digest: chunkTableDigest(size, chunkSize, chunks),
    chunks,
    readBytes,
    newChunks,
    newBytes,
    isCacheHit: false,
  };
}

/** Whether [start, end) meets any of the sorted `ranges` (a binary search: images have many extents). */
export function overlapsData(ranges: readonly DataRange[], start: number, end: number): boolean {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  const r = ranges[lo];
  return r !== undefined && r.start < end;
}

/**
 * How a chunk is stored: one tag byte, then the payload. Tag 0: the bytes as they are (a chunk
 * that does not shrink, e.g. already compressed data); tag 1: brotli at quality 2. Chosen by
 * measuring the 708 MiB of data chunks of a Debian 12 guest image on this project's 2-CPU
 * machine (bench/RESULTS.md, "Backups"): brotli 2 gave 179 MiB in 6.2 s of compression, deflate 1
 * 221 MiB in 12.9 s, deflate 6 203 MiB in 44.9 s, brotli 3 178 MiB in 9.9 s (tar -cSzf: 201 MiB);
 * Node 20 has no zstd. zlib runs on libuv's thread pool, so several chunks compress at once.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const compress = promisify(zlib.brotliCompress);

export const TAG_STORED = 0;
export const TAG_BROTLI = 1;

/** The brotli quality chunks are written with. */
export const BROTLI_QUALITY = 2;

/**
 * The stored form of `data`: compressed when that saves at least 1/16, else as it is. The output
 * goes to one buffer of the input's size (only the pages written become memory), not to 16 KiB
 * pieces joined after.
 */
export async function encodeChunk(data: Uint8Array): Promise<Buffer> {
  const packed = await compress(data, {
    chunkSize: data.length + 64,
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  if (packed.length + 1 <= data.length - (data.length >> 4)) {
    return Buffer.concat([Buffer.of(TAG_BROTLI), packed]);
  }
  return Buffer.concat([Buffer.of(TAG_STORED), data]);
}

/**
 * The bytes of a stored chunk; throws (an Error naming the tag) on a form it does not know.
 * Decompressed on the calling thread: on libuv's pool every thread that decompresses keeps a
 * malloc arena of its own, and decompressing the 185 chunks of the bench guest peaked at 180 MB
 * RSS with two chunks in flight (142 MB with one) against 98-132 MB here, in about the same time
 * (brotli decompresses several times faster than the chunks are written). An output buffer of
 * the chunk's whole size (`sizeHint`) instead of zlib's 64 KiB pieces, later joined: 93 MB.
 */
export function decodeChunk(stored: Uint8Array, sizeHint = 64 * 1024): Buffer {
  const tag = stored[0];
  const body = Buffer.from(stored.buffer, stored.byteOffset + 1, stored.byteLength - 1);
  if (tag === TAG_STORED) return Buffer.from(body);
  if (tag === TAG_BROTLI) return zlib.brotliDecompressSync(body, { chunkSize: Math.max(sizeHint + 64, 64) });
  throw new Error(`unknown chunk encoding ${String(tag)}`);
}

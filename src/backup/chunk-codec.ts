/**
 * How a chunk is stored: one tag byte, then the payload. Tag 0: the bytes as they are (a chunk
 * that does not shrink, e.g. already compressed data); tag 1: raw deflate. Deflate at level 1
 * was chosen by measurement on a Debian guest image (bench/RESULTS.md, "Backups"): level 6 made
 * the chunks ~4% smaller for 3x the CPU, and brotli's fastest levels were slower still; Node 20
 * has no zstd. zlib runs on libuv's thread pool, so several chunks compress at once.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);

export const TAG_STORED = 0;
export const TAG_DEFLATE = 1;

/** The deflate level chunks are written with. */
export const DEFLATE_LEVEL = 1;

/** The stored form of `data`: deflated when that saves at least 1/16, else as it is. */
export async function encodeChunk(data: Uint8Array): Promise<Buffer> {
  const packed = await deflateRaw(data, { level: DEFLATE_LEVEL });
  if (packed.length + 1 <= data.length - (data.length >> 4)) {
    return Buffer.concat([Buffer.of(TAG_DEFLATE), packed]);
  }
  return Buffer.concat([Buffer.of(TAG_STORED), data]);
}

/** The bytes of a stored chunk; throws (an Error naming the tag) on a form it does not know. */
export async function decodeChunk(stored: Uint8Array): Promise<Buffer> {
  const tag = stored[0];
  const body = Buffer.from(stored.buffer, stored.byteOffset + 1, stored.byteLength - 1);
  if (tag === TAG_STORED) return Buffer.from(body);
  if (tag === TAG_DEFLATE) return inflateRaw(body);
  throw new Error(`unknown chunk encoding ${String(tag)}`);
}

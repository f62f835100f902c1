/**
 * The LZ4 "legacy" stream, the format of an x86 bzImage built with CONFIG_KERNEL_LZ4 (Debian's
 * cloud kernels): the magic 0x184C2102, then blocks, each a 4-byte little-endian compressed size
 * and an LZ4 block that decompresses to at most 8 MiB on its own (no block refers to another).
 * The kernel appends the decompressed size after the last block; the caller passes only the
 * stream. Decoded here rather than by the `lz4` tool, which would need the stream cut out of the
 * bzImage first and is not on every host.
 */

/** The legacy stream's magic number, as the stream's first four bytes read little-endian. */
export const LZ4_LEGACY_MAGIC = 0x184c2102;
/** The most a legacy block decompresses to. */
export const LZ4_LEGACY_BLOCK = 8 << 20;
/**
 * The most a legacy block may take compressed (LZ4_COMPRESSBOUND of the block size), and so the
 * most decodeLz4Legacy asks `read` for at once: a reader may reuse one buffer of this size.
 */
export const LZ4_LEGACY_READ = LZ4_LEGACY_BLOCK + Math.floor(LZ4_LEGACY_BLOCK / 255) + 16;

/** Below this many bytes a copy is a loop, not a Buffer.copy call (most LZ4 copies are short). */
const SHORT_COPY = 64;

function corrupt(what: string): Error {
  return new Error(`LZ4 stream is corrupt: ${what}`);
}

/**
 * Decompresses one LZ4 block `src` into `dst`; returns the decompressed length. Throws on a
 * block that reads or writes out of bounds or refers before the block's start.
 */
export function decodeLz4Block(src: Buffer, dst: Buffer): number {
  let s = 0;
  let d = 0;
  const extend = (length: number): number => {
    for (;;) {
      if (s >= src.length) throw corrupt('a length runs past the block');
      const byte = src[s++] as number;
      length += byte;
      if (byte !== 255) return length;
    }
  };
  while (s < src.length) {
    const token = src[s++] as number;
    let literals = token >>> 4;
    if (literals === 15) literals = extend(literals);
    if (s + literals > src.length) throw corrupt('literals run past the block');
    if (d + literals > dst.length) throw corrupt('the block decompresses to more than its limit');
    if (literals < SHORT_COPY) for (const end = s + literals; s < end;) dst[d++] = src[s++] as number;
    else {
      src.copy(dst, d, s, s + literals);
      s += literals;
      d += literals;
    }
    if (s === src.length) break; // the last sequence has literals only
    if (s + 2 > src.length) throw corrupt('a match offset runs past the block');
    const offset = (src[s] as number) | ((src[s + 1] as number) << 8);
    s += 2;
    if (offset === 0 || offset > d) throw corrupt('a match refers before the block');
    let length = token & 15;
    if (length === 15) length = extend(length);
    length += 4;
    if (d + length > dst.length) throw corrupt('the block decompresses to more than its limit');
    let from = d - offset;
    if (offset >= length && length >= SHORT_COPY) {
      dst.copy(dst, d, from, from + length);
      d += length;
    } else {
      // Byte by byte, in order: a short copy costs less so than a call, and an overlapping match
      // (offset < length) repeats the last `offset` bytes.
      for (const end = d + length; d < end;) dst[d++] = dst[from++] as number;
    }
  }
  return d;
}

/**
 * Decodes a legacy stream read through `read` (which returns up to `length` bytes at `offset` of
 * the stream, fewer only at its end; it may return the same buffer each time, as each read is
 * used up before the next), handing each decompressed block to `write` in order (the block's
 * buffer is reused once `write` returns).
 * Returns the total decompressed size. Throws when the stream is not one or is corrupt.
 */
export async function decodeLz4Legacy(
  read: (offset: number, length: number) => Buffer,
  streamLength: number,
  write: (block: Buffer) => Promise<void> | void,
  signal?: AbortSignal,
): Promise<number> {
  const magic = read(0, 4);
  if (magic.length < 4 || magic.readUInt32LE(0) !== LZ4_LEGACY_MAGIC) throw corrupt('no legacy magic');
  const out = Buffer.allocUnsafe(LZ4_LEGACY_BLOCK);
  let total = 0;
  for (let at = 4; at < streamLength;) {
    signal?.throwIfAborted();
    const header = read(at, 4);
    if (header.length < 4) throw corrupt('a block header is cut short');
    const size = header.readUInt32LE(0);
    if (size === 0 || size > LZ4_LEGACY_READ) throw corrupt(`a block claims ${size} bytes`);
    if (at + 4 + size > streamLength) throw corrupt('a block runs past the stream');
    const block = read(at + 4, size);
    if (block.length < size) throw corrupt('a block is cut short');
    const length = decodeLz4Block(block, out);
    await write(out.subarray(0, length));
    total += length;
    at += 4 + size;
    // The decoding is synchronous: between blocks (some 25 ms each) the event loop gets a turn,
    // so a caller that decodes in the background (a create writing its images) goes on meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return total;
}

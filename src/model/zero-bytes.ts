/**
 * Whether bytes are all zero, compared natively (Buffer.equals, a memcmp) against one shared
 * block of zeros instead of byte by byte in JavaScript: for scans of disk images, backup blocks
 * and kernel segments, where most of what is read is zeros.
 */

const BLOCK = 1024 * 1024;
let zeros: Buffer | undefined;

/** True when `data` holds only zero bytes (an empty buffer included). */
export function isAllZero(data: Buffer): boolean {
  zeros ??= Buffer.alloc(BLOCK);
  for (let at = 0; at < data.length; at += BLOCK) {
    const part = data.subarray(at, at + BLOCK);
    if (!part.equals(zeros.subarray(0, part.length))) return false;
  }
  return true;
}

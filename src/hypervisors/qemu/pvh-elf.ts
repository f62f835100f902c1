/**
 * The bytes of a PVH kernel: where an x86 bzImage keeps its compressed kernel, whether an ELF has
 * Xen's PVH entry note, and how its loadable segments are cut to their last non-zero byte. Every
 * function reads through `ReadAt`, so a kernel can be a Buffer (tests) or a file read in pieces
 * (pvh-kernel.ts: a 60 MB vmlinux is never held in memory).
 */

import { isAllZero } from '../../model/zero-bytes.js';
import { LZ4_LEGACY_MAGIC } from './lz4-legacy.js';

/**
 * Reads `length` bytes at `offset` (fewer at the end), into `scratch` when one is given (a scan
 * that reads many pieces allocates nothing per piece) and the reader copies at all.
 */
export type ReadAt = (offset: number, length: number, scratch?: Buffer) => Buffer;

/** Decompressors for a bzImage payload, by the magic it starts with. */
export type PayloadFormat = 'xz' | 'gzip' | 'lz4';

const PT_LOAD = 1;
const PT_NOTE = 4;
/** XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point QEMU looks for. */
const XEN_ELFNOTE_PHYS32_ENTRY = 18;
/** How much of a segment is read at a time while looking for its last non-zero byte. */
const SCAN_CHUNK = 1 << 20;

/** A Buffer as a ReadAt. */
export const bufferReader =
  (data: Buffer): ReadAt =>
  (offset, length) =>
    data.subarray(offset, offset + length);

/** Where the compressed kernel of an x86 bzImage (boot protocol 2.08+) is, or undefined. */
export function payloadLocation(
  read: ReadAt,
): { format: PayloadFormat; start: number; length: number } | undefined {
  const header = read(0, 0x250);
  if (header.length < 0x250 || header.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  if (header.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSectors = header[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + header.readUInt32LE(0x248);
  const length = header.readUInt32LE(0x24c);
  const magic = read(start, 6);
  if (magic.equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return { format: 'xz', start, length };
  if (magic[0] === 0x1f && magic[1] === 0x8b) return { format: 'gzip', start, length };
  if (magic.length >= 4 && magic.readUInt32LE(0) === LZ4_LEGACY_MAGIC)
    return { format: 'lz4', start, length };
  return undefined;
}

/** The compressed kernel inside an x86 bzImage, or undefined. */
export function bzImagePayload(image: Buffer): { format: PayloadFormat; data: Buffer } | undefined {
  const at = payloadLocation(bufferReader(image));
  return at && { format: at.format, data: image.subarray(at.start, at.start + at.length) };
}

interface Segment {
  type: number;
  offset: number;
  fileSize: number;
  header: number;
}

/**
 * The program headers of a little-endian x86-64 ELF executable of `size` bytes, and where their
 * table ends; undefined when it is not one.
 */
function segmentsOf(read: ReadAt, size: number): { segments: Segment[]; tableEnd: number } | undefined {
  const elf = read(0, 64);
  const isElf64 = elf.length >= 64 && elf.readUInt32BE(0) === 0x7f454c46 && elf[4] === 2 && elf[5] === 1;
  if (!isElf64 || elf.readUInt16LE(0x12) !== 62) return undefined;
  const table = Number(elf.readBigUInt64LE(0x20));
  const entry = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  if (entry < 56 || table + entry * count > size) return undefined;
  const headers = read(table, entry * count);
  const segments = Array.from({ length: count }, (_, i) => {
    const at = i * entry;
    return {
      type: headers.readUInt32LE(at),
      offset: Number(headers.readBigUInt64LE(at + 8)),
      fileSize: Number(headers.readBigUInt64LE(at + 32)),
      header: table + at,
    };
  });
  return { segments, tableEnd: table + entry * count };
}

/** True when a PT_NOTE segment of the ELF has the Xen PVH entry note. */
export function hasPvhEntryAt(read: ReadAt, size: number): boolean {
  for (const s of segmentsOf(read, size)?.segments ?? []) {
    if (s.type !== PT_NOTE || s.offset + s.fileSize > size) continue;
    const notes = read(s.offset, s.fileSize);
    for (let at = 0; at + 12 <= notes.length;) {
      const nameSize = notes.readUInt32LE(at);
      const descSize = notes.readUInt32LE(at + 4);
      const type = notes.readUInt32LE(at + 8);
      const name = notes.toString('latin1', at + 12, at + 12 + nameSize).replace(/\0+$/, '');
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      at += 12 + align4(nameSize) + align4(descSize);
    }
  }
  return false;
}

/** True when the ELF in `elf` has the Xen PVH entry note. */
export function hasPvhEntry(elf: Buffer): boolean {
  return hasPvhEntryAt(bufferReader(elf), elf.length);
}

const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes to write over the ELF at `offset`. */
export interface Patch {
  offset: number;
  data: Buffer;
}

/**
 * How to make the ELF what QEMU needs: each PT_LOAD's file size cut to its last non-zero byte
 * (its memory size stays, so the loader zero-fills the rest), no section headers, the file cut
 * after the last byte a program header refers to (`end`). Undefined when it is not an x86-64 ELF.
 */
export function planTrim(read: ReadAt, size: number): { patches: Patch[]; end: number } | undefined {
  const elf = segmentsOf(read, size);
  if (!elf) return undefined;
  let end = elf.tableEnd;
  const patches: Patch[] = [];
  // One buffer for every segment's scan: the chunks are read into it.
  const scratch = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, size));
  for (const s of elf.segments) {
    let last = Math.min(s.offset + s.fileSize, size);
    if (s.type === PT_LOAD) {
      last = lastNonZero(read, s.offset, last, scratch);
      const fileSize = Buffer.alloc(8);
      fileSize.writeBigUInt64LE(BigInt(last - s.offset));
      patches.push({ offset: s.header + 32, data: fileSize });
    }
    end = Math.max(end, last);
  }
  // e_shoff, then e_shnum and e_shstrndx.
  patches.push({ offset: 0x28, data: Buffer.alloc(8) }, { offset: 0x3c, data: Buffer.alloc(4) });
  return { patches, end };
}

/** The offset after the last non-zero byte of [from, to), or `from`. */
function lastNonZero(read: ReadAt, from: number, to: number, scratch: Buffer): number {
  for (let chunkEnd = to; chunkEnd > from;) {
    const chunkStart = Math.max(from, chunkEnd - SCAN_CHUNK);
    const chunk = read(chunkStart, chunkEnd - chunkStart, scratch);
    // Whole chunks of zeros (most of what is scanned) are compared natively, not byte by byte.
    if (isAllZero(chunk)) {
      chunkEnd = chunkStart;
      continue;
    }
    for (let i = chunk.length - 1; i >= 0; i--) if (chunk[i] !== 0) return chunkStart + i + 1;
  }
  return from;
}

/** The trimmed ELF (planTrim applied to a copy of `elf`), or undefined. */
export function trimElf(elf: Buffer): Buffer | undefined {
  const plan = planTrim(bufferReader(elf), elf.length);
  if (!plan) return undefined;
  const out = Buffer.from(elf.subarray(0, plan.end));
  for (const p of plan.patches) p.data.copy(out, p.offset);
  return out;
}

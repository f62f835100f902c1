/**
 * Small stand-ins for a Linux kernel: an x86-64 ELF with one loadable segment (code, then a run
 * of zeros like .bss) and a PT_NOTE segment, and a bzImage whose payload is a compressed ELF.
 */
import { Buffer } from 'node:buffer';

/** One ELF note: namesz, descsz, type, name and desc padded to 4 bytes. */
function note(name: string, type: number, desc: Buffer): Buffer {
  const pad = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(name.length + 1, 0);
  head.writeUInt32LE(desc.length, 4);
  head.writeUInt32LE(type, 8);
  return Buffer.concat([head, pad(Buffer.from(`${name}\0`, 'latin1')), pad(desc)]);
}

/** An ELF64 x86-64 executable: `code` followed by `zeros` zero bytes in one PT_LOAD, plus notes. */
export function makeElf(opts: { code: Buffer; zeros: number; noteType: number; noteName?: string }): Buffer {
  const notes = note(opts.noteName ?? 'Xen', opts.noteType, Buffer.from([0, 0, 0, 1]));
  const phoff = 64;
  const loadOffset = 0x1000;
  const loadSize = opts.code.length + opts.zeros;
  const noteOffset = loadOffset + loadSize;
  const elf = Buffer.alloc(noteOffset + notes.length + 64);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // ELFCLASS64
  elf[5] = 1; // little-endian
  elf[6] = 1;
  elf.writeUInt16LE(2, 0x10); // ET_EXEC
  elf.writeUInt16LE(62, 0x12); // EM_X86_64
  elf.writeBigUInt64LE(BigInt(phoff), 0x20);
  elf.writeBigUInt64LE(BigInt(noteOffset + notes.length), 0x28); // section headers at the end
  elf.writeUInt16LE(64, 0x34);
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(2, 0x38);
  elf.writeUInt16LE(64, 0x3a);
  elf.writeUInt16LE(1, 0x3c);
  const phdr = (at: number, type: number, offset: number, size: number): void => {
    elf.writeUInt32LE(type, at);
    elf.writeBigUInt64LE(BigInt(offset), at + 8);
    elf.writeBigUInt64LE(0x1000000n, at + 24);
    elf.writeBigUInt64LE(BigInt(size), at + 32);
    elf.writeBigUInt64LE(BigInt(size), at + 40);
  };
  phdr(phoff, 1, loadOffset, loadSize);
  phdr(phoff + 56, 4, noteOffset, notes.length);
  opts.code.copy(elf, loadOffset);
  notes.copy(elf, noteOffset);
  return elf;
}

/** A bzImage (boot protocol 2.15) whose payload is `payload`, followed by its 4-byte size like Linux's. */
export function makeBzImage(payload: Buffer): Buffer {
  const setupSectors = 3;
  const header = Buffer.alloc((setupSectors + 1) * 512);
  header[0x1f1] = setupSectors;
  header.write('HdrS', 0x202, 'latin1');
  header.writeUInt16LE(0x20f, 0x206);
  header.writeUInt32LE(0x100, 0x248); // payload_offset, from the protected-mode code
  header.writeUInt32LE(payload.length, 0x24c);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(12345, 0);
  return Buffer.concat([header, Buffer.alloc(0x100, 0x90), payload, trailer]);
}

/** An LZ4 block that holds `data` as literals only (valid LZ4, no compression). */
export function lz4LiteralBlock(data: Buffer): Buffer {
  const head: number[] = [];
  if (data.length < 15) head.push(data.length << 4);
  else {
    head.push(0xf0);
    let left = data.length - 15;
    for (; left >= 255; left -= 255) head.push(255);
    head.push(left);
  }
  return Buffer.concat([Buffer.from(head), data]);
}

/** `blocks` as an LZ4 legacy stream (the magic, then each block behind its 4-byte size). */
export function lz4LegacyStream(blocks: Buffer[]): Buffer {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(0x184c2102, 0);
  const framed = blocks.flatMap((block) => {
    const size = Buffer.alloc(4);
    size.writeUInt32LE(block.length, 0);
    return [size, block];
  });
  return Buffer.concat([magic, ...framed]);
}

/** A kernel's LZ4 payload: the legacy stream of `data` followed by its size, as Linux builds it. */
export function lz4KernelPayload(data: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32LE(data.length, 0);
  return Buffer.concat([lz4LegacyStream([lz4LiteralBlock(data)]), size]);
}

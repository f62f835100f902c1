/**
 * A guest kernel booted through its PVH entry point instead of as a bzImage, under TCG.
 *
 * A Debian bzImage carries the kernel xz-compressed; booted as it is, the guest decompresses
 * some 60 MB with the emulated CPU before the kernel prints its first line: 5-9 s under TCG
 * (bench/RESULTS.md, "Boot time"). The host does the same in under a second. Kernels built with
 * CONFIG_PVH (Debian's are, for Xen) carry a Xen ELF note with a 32-bit entry point, and QEMU
 * boots such an ELF `-kernel` directly (its pvh.bin option ROM), so the guest starts in the
 * decompressed kernel.
 *
 * The ELF written here is the decompressed vmlinux with each loadable segment's trailing zeros
 * (.bss, .brk, .init.scratch: some 24 MB) left out of the file, its memory size unchanged (QEMU
 * zero-fills the rest), and no section headers: QEMU maps the file and keeps what each segment
 * holds for a reset, so every byte of it is in QEMU's RSS. Files are cached by the bzImage's
 * SHA-256 under a shared directory, so guests booting one kernel share its page cache.
 * Anything else (another compression, no PVH note, not x86) keeps the bzImage.
 */
import { createHash } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCommand } from '../../tools/exec.js';

/** Decompressors for a bzImage payload, by the magic it starts with. */
export type PayloadFormat = 'xz' | 'gzip';

/** How many cached kernels are kept (the least recently used go first). */
export const PVH_CACHE_ENTRIES = 8;

const PT_LOAD = 1;
const PT_NOTE = 4;
/** XEN_ELFNOTE_PHYS32_ENTRY: the PVH entry point QEMU looks for. */
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** The compressed kernel inside an x86 bzImage (boot protocol 2.08+), or undefined. */
export function bzImagePayload(image: Buffer): { format: PayloadFormat; data: Buffer } | undefined {
  if (image.length < 0x250 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  if (image.readUInt16LE(0x206) < 0x208) return undefined;
  const setupSectors = image[0x1f1] || 4;
  const start = (setupSectors + 1) * 512 + image.readUInt32LE(0x248);
  const data = image.subarray(start, start + image.readUInt32LE(0x24c));
  if (data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])))
    return { format: 'xz', data };
  if (data[0] === 0x1f && data[1] === 0x8b) return { format: 'gzip', data };
  return undefined;
}

interface Segment {
  type: number;
  offset: number;
  fileSize: number;
  header: number;
}

/** The program headers of a little-endian x86-64 ELF executable, or undefined. */
function segmentsOf(elf: Buffer): Segment[] | undefined {
  const isElf64 = elf.length >= 64 && elf.readUInt32BE(0) === 0x7f454c46 && elf[4] === 2 && elf[5] === 1;
  if (!isElf64 || elf.readUInt16LE(0x12) !== 62) return undefined;
  const table = Number(elf.readBigUInt64LE(0x20));
  const size = elf.readUInt16LE(0x36);
  const count = elf.readUInt16LE(0x38);
  if (table + size * count > elf.length) return undefined;
  return Array.from({ length: count }, (_, i) => {
    const header = table + i * size;
    return {
      type: elf.readUInt32LE(header),
      offset: Number(elf.readBigUInt64LE(header + 8)),
      fileSize: Number(elf.readBigUInt64LE(header + 32)),
      header,
    };
  });
}

/** True when a PT_NOTE segment of the ELF has the Xen PVH entry note. */
export function hasPvhEntry(elf: Buffer): boolean {
  for (const s of segmentsOf(elf) ?? []) {
    if (s.type !== PT_NOTE) continue;
    for (let at = s.offset; at + 12 <= s.offset + s.fileSize;) {
      const nameSize = elf.readUInt32LE(at);
      const descSize = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const name = elf.toString('latin1', at + 12, at + 12 + nameSize).replace(/\0+$/, '');
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
      at += 12 + align4(nameSize) + align4(descSize);
    }
  }
  return false;
}

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * The ELF as QEMU needs it: each PT_LOAD's file size cut to its last non-zero byte (its memory
 * size stays, so the loader zero-fills the rest), no section headers, the file cut after the
 * last byte a program header refers to. Undefined when it is not an x86-64 ELF.
 */
export function trimElf(elf: Buffer): Buffer | undefined {
  const segments = segmentsOf(elf);
  if (!segments) return undefined;
  const out = Buffer.from(elf);
  let end = Number(out.readBigUInt64LE(0x20)) + out.readUInt16LE(0x36) * segments.length;
  for (const s of segments) {
    let last = s.offset + s.fileSize;
    if (s.type === PT_LOAD) {
      while (last > s.offset && out[last - 1] === 0) last--;
      out.writeBigUInt64LE(BigInt(last - s.offset), s.header + 32);
    }
    end = Math.max(end, last);
  }
  out.writeBigUInt64LE(0n, 0x28); // e_shoff
  out.writeUInt16LE(0, 0x3c); // e_shnum
  out.writeUInt16LE(0, 0x3e); // e_shstrndx
  return out.subarray(0, end);
}

async function decompress(payload: { format: PayloadFormat; data: Buffer }): Promise<Buffer | undefined> {
  if (payload.format === 'gzip') return gunzipSync(payload.data);
  // The payload ends with the kernel's size after the xz stream: --single-stream ignores it.
  const result = await runCommand(['xz', '--decompress', '--stdout', '--single-stream'], {
    input: payload.data,
    binary: true,
    allowFailure: true,
    timeoutMs: 120_000,
  });
  return result.exitCode === 0 ? Buffer.from(result.stdout, 'latin1') : undefined;
}

/**
 * The PVH ELF for the bzImage `kernel`, made once into `cacheDir` and reused; undefined when the
 * kernel cannot boot that way (or cannot be unpacked here), so the caller boots the bzImage.
 */
export async function pvhKernelFor(kernel: string, cacheDir: string): Promise<string | undefined> {
  const image = readFileSync(kernel);
  const digest = createHash('sha256').update(image).digest('hex');
  const cached = path.join(cacheDir, `${digest}.elf`);
  try {
    const now = new Date();
    utimesSync(cached, now, now);
    return cached;
  } catch {
    // not cached yet
  }
  const payload = bzImagePayload(image);
  if (!payload) return undefined;
  const elf = await decompress(payload).catch(() => undefined);
  if (!elf || !hasPvhEntry(elf)) return undefined;
  const trimmed = trimElf(elf);
  if (!trimmed) return undefined;
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const partial = `${cached}.${process.pid}.tmp`;
  writeFileSync(partial, trimmed, { mode: 0o600 });
  renameSync(partial, cached);
  pruneCache(cacheDir, PVH_CACHE_ENTRIES);
  return cached;
}

/** Removes all but the `keep` most recently used kernels of the cache (a running QEMU keeps its mapping). */
export function pruneCache(cacheDir: string, keep: number): void {
  const entries = readdirSync(cacheDir)
    .filter((name) => name.endsWith('.elf'))
    .map((name) => ({ file: path.join(cacheDir, name), used: statSync(path.join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const old of entries.slice(keep)) rmSync(old.file, { force: true });
}

/**
 * The kernel file to boot under TCG: the PVH ELF of `kernel` when it has one, hard-linked into
 * the guest's runtime directory `runDir` (so pruning the cache cannot take it from a running
 * guest, whose save file embeds it) or, across filesystems, the cached file itself; else `kernel`.
 */
export async function bootablePvhKernel(kernel: string, cacheDir: string, runDir: string): Promise<string> {
  const elf = await pvhKernelFor(kernel, cacheDir).catch(() => undefined);
  if (elf === undefined) return kernel;
  const linked = path.join(runDir, 'vmlinux-pvh');
  rmSync(linked, { force: true });
  try {
    linkSync(elf, linked);
    return linked;
  } catch {
    return elf;
  }
}

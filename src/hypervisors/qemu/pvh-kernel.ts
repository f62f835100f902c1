/**
 * A guest kernel booted through its PVH entry point instead of as a bzImage, under TCG.
 *
 * A Debian bzImage carries the kernel xz-compressed (LZ4 for the cloud flavour); booted as it is,
 * the guest decompresses some 60 MB with the emulated CPU before the kernel prints its first
 * line: 5-9 s under TCG for xz (bench/RESULTS.md, "Boot time"). The host does the same in under
 * a second. Kernels built with CONFIG_PVH (Debian's are, for Xen) carry a Xen ELF note with a
 * 32-bit entry point, and QEMU boots such an ELF `-kernel` directly (its pvh.bin option ROM), so
 * the guest starts in the decompressed kernel.
 *
 * The ELF written here is the decompressed vmlinux with each loadable segment's trailing zeros
 * (.bss, .brk, .init.scratch: some 24 MB) left out of the file, its memory size unchanged (QEMU
 * zero-fills the rest), and no section headers: QEMU maps the file and keeps what each segment
 * holds for a reset, so every byte of it is in QEMU's RSS. Files are cached by the bzImage's
 * SHA-256 under a shared directory, so guests booting one kernel share its page cache.
 * Anything else (another compression, no PVH note, not x86) keeps the bzImage.
 *
 * The work is done on files, never in this process's memory: the kernel is copied into the cache
 * directory, `xz` (or a zlib stream, or lz4-legacy.ts block by block) decompresses it into the
 * partial ELF, which is then cut in place (pvh-elf.ts reads it in pieces). The process stays
 * within its own memory budget, where holding a 60 MB vmlinux and its trimmed copy would add over
 * 100 MB.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { isAlive } from '../../plan/process-identity.js';
import { runCommand } from '../../tools/exec.js';
import { chooseKernel } from './guest-kernel.js';
import { decodeLz4Legacy, LZ4_LEGACY_READ } from './lz4-legacy.js';
import { hasPvhEntryAt, payloadLocation, planTrim, type PayloadFormat, type ReadAt } from './pvh-elf.js';

/** How many cached kernels are kept (the least recently used go first). */
export const PVH_CACHE_ENTRIES = 8;

/** A partial file of the cache: the kernel's copy or the ELF being made, named by its writer's pid. */
const PARTIAL = /^[0-9a-f]{64}\.(?:elf|vmlinuz)\.(\d+)-[0-9a-f]{8}\.tmp$/;

/** Reads an open file in pieces. */
const fileReader =
  (fd: number): ReadAt =>
  (offset, length, scratch) => {
    const buffer = scratch && scratch.length >= length ? scratch : Buffer.alloc(length);
    return buffer.subarray(0, readSync(fd, buffer, 0, length, offset));
  };

/** SHA-256 of an open file, read 1 MiB at a time. */
function digestOf(fd: number): string {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1 << 20);
  for (let at = 0; ;) {
    const got = readSync(fd, buffer, 0, buffer.length, at);
    if (got === 0) break;
    hash.update(buffer.subarray(0, got));
    at += got;
  }
  return hash.digest('hex');
}

/** Decompresses `length` bytes at `start` of `source` into the open file `out`; false when that fails. */
async function decompress(
  source: string,
  at: { format: PayloadFormat; start: number; length: number },
  out: number,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (at.format === 'gzip') {
    await pipeline(
      createReadStream(source, { start: at.start, end: at.start + at.length - 1 }),
      createGunzip(),
      createWriteStream('', { fd: out, autoClose: false }),
      ...(signal ? [{ signal }] : []),
    );
    return true;
  }
  if (at.format === 'lz4') {
    // The stream, without the decompressed size the kernel's build appends to it.
    const input = openSync(source, 'r');
    try {
      const read = fileReader(input);
      // Read before the blocks: those reuse one scratch buffer, this read has its own.
      const size = read(at.start + at.length - 4, 4);
      const scratch = Buffer.allocUnsafe(LZ4_LEGACY_READ);
      const total = await decodeLz4Legacy(
        (offset, length) => read(at.start + offset, length, scratch),
        at.length - 4,
        (block) => {
          for (let done = 0; done < block.length;) done += writeSync(out, block, done, block.length - done);
        },
        signal,
      );
      return size.length === 4 && total === size.readUInt32LE(0);
    } finally {
      closeSync(input);
    }
  }
  // xz reads its stdin from the payload on: the descriptor's offset is moved there first. The
  // payload ends with the kernel's size after the xz stream: --single-stream ignores it.
  const input = openSync(source, 'r');
  try {
    const skip = Buffer.alloc(Math.min(at.start, 1 << 16));
    for (let left = at.start; left > 0;) {
      const got = readSync(input, skip, 0, Math.min(left, skip.length), null);
      if (got === 0) return false; // shorter than its header said
      left -= got;
    }
    const result = await runCommand(['xz', '--decompress', '--stdout', '--single-stream'], {
      stdinFd: input,
      stdoutFd: out,
      allowFailure: true,
      timeoutMs: 120_000,
      ...(signal ? { signal } : {}),
    });
    return result.exitCode === 0;
  } finally {
    closeSync(input);
  }
}

/**
 * The PVH ELF for the bzImage `kernel`, made once into `cacheDir` and reused; undefined when the
 * kernel cannot boot that way (or cannot be unpacked here, or `signal` ended it), so the caller
 * boots the bzImage. `kernel` is read (and copied when the cache lacks it) before the first
 * await: the caller may remove it then.
 */
export async function pvhKernelFor(
  kernel: string,
  cacheDir: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const fd = openSync(kernel, 'r');
  let digest: string;
  let payload: ReturnType<typeof payloadLocation>;
  try {
    digest = digestOf(fd);
    payload = payloadLocation(fileReader(fd));
  } finally {
    closeSync(fd);
  }
  const cached = path.join(cacheDir, `${digest}.elf`);
  try {
    const now = new Date();
    utimesSync(cached, now, now);
    return cached;
  } catch {
    // not cached yet
  }
  if (!payload || signal?.aborted) return undefined;
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  // Named by this process and a random tag: two guests of one kernel may start at once.
  const writer = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const copy = path.join(cacheDir, `${digest}.vmlinuz.${writer}.tmp`);
  const partial = path.join(cacheDir, `${digest}.elf.${writer}.tmp`);
  try {
    copyFileSync(kernel, copy);
    const made = await unpackInto(copy, payload, partial, signal).catch(() => false);
    if (!made || signal?.aborted) return undefined;
    renameSync(partial, cached);
  } finally {
    rmSync(copy, { force: true });
    rmSync(partial, { force: true });
  }
  pruneCache(cacheDir, PVH_CACHE_ENTRIES);
  return cached;
}

/** Decompresses the bzImage `source` into `partial` and trims it there; false when it is no PVH kernel. */
async function unpackInto(
  source: string,
  payload: NonNullable<ReturnType<typeof payloadLocation>>,
  partial: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const out = openSync(partial, 'wx+', 0o600);
  try {
    if (!(await decompress(source, payload, out, signal))) return false;
    const read = fileReader(out);
    const size = fstatSync(out).size;
    if (!hasPvhEntryAt(read, size)) return false;
    const plan = planTrim(read, size);
    if (!plan) return false;
    for (const patch of plan.patches) writeSync(out, patch.data, 0, patch.data.length, patch.offset);
    ftruncateSync(out, plan.end);
    fsyncSync(out);
    return true;
  } finally {
    closeSync(out);
  }
}

/**
 * Removes all but the `keep` most recently used kernels of the cache (a running QEMU keeps its
 * mapping), and the partial files of writers that are gone (killed between write and rename).
 */
export function pruneCache(cacheDir: string, keep: number): void {
  const names = readdirSync(cacheDir);
  const entries = names
    .filter((name) => name.endsWith('.elf'))
    .map((name) => ({ file: path.join(cacheDir, name), used: statSync(path.join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  for (const old of entries.slice(keep)) rmSync(old.file, { force: true });
  for (const name of names) {
    const writer = PARTIAL.exec(name)?.[1];
    if (writer !== undefined && !isAlive(Number(writer))) rmSync(path.join(cacheDir, name), { force: true });
  }
}

/**
 * Makes the PVH ELF of the kernel the guest tree at `root` boots (the newest regular
 * `/boot/vmlinuz-*`, as extractGuestKernel chooses it from the disk), so that the guest's first
 * boot under TCG finds it in `cacheDir` instead of unpacking it (1-2 s). The kernel is read
 * before the first await. Undefined when the tree has no such kernel or it cannot boot that way.
 */
export async function preparePvhKernel(
  root: string,
  cacheDir: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const boot = path.join(root, 'boot');
  let files: string[];
  try {
    // A /boot that is a symlink (a copied or untarred tree) would point into the host.
    if (!lstatSync(boot).isDirectory()) return undefined;
    files = readdirSync(boot, { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name);
  } catch {
    return undefined;
  }
  const chosen = chooseKernel(files);
  return chosen ? pvhKernelFor(path.join(boot, `vmlinuz-${chosen.version}`), cacheDir, signal) : undefined;
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

/**
 * Pure parsers for the kernel's text that says who holds a file: `/proc/locks` (POSIX, flock and
 * OFD locks with the locked file's device and inode), the target of a `/proc/PID/fd/N` link, a
 * loop device's `/sys/block/loopN/loop/backing_file`, and the file mappings of a process
 * (`/proc/PID/maps`, with their resident size from `/proc/PID/smaps`).
 */

/** One lock line of /proc/locks. */
export interface ProcLock {
  /** POSIX, FLOCK, OFDLCK, LEASE, ... */
  kind: string;
  access: string;
  /** The owner; undefined for OFD locks, which belong to an open file, not a process (-1). */
  pid: number | undefined;
  major: number;
  minor: number;
  inode: bigint;
}

// "1: OFDLCK ADVISORY  READ -1 fe:00:2147267 100 101" (QEMU's image locks, kernel 6.1); blocked
// waiters read "1: -> POSIX ..." and are left out: they hold nothing.
const LOCK_RE = /^\d+:\s+(\S+)\s+\S+\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i;

/** The locks /proc/locks (or a /proc/PID/fdinfo `lock:` line) lists. */
export function parseProcLocks(text: string): ProcLock[] {
  const locks: ProcLock[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^lock:\s*/, '').trim();
    const m = LOCK_RE.exec(`${line} `);
    if (!m) continue;
    const pid = Number(m[3]);
    locks.push({
      kind: m[1]!,
      access: m[2]!,
      pid: pid > 0 ? pid : undefined,
      major: parseInt(m[4]!, 16),
      minor: parseInt(m[5]!, 16),
      inode: BigInt(m[6]!),
    });
  }
  return locks;
}

/** Major and minor of a dev_t as glibc's makedev encodes it (what node's stat returns). */
export function splitDevice(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

/** Whether `lock` is on the file with device `dev` and inode `ino` (from a bigint stat). */
export function isLockOn(lock: ProcLock, dev: bigint, ino: bigint): boolean {
  const { major, minor } = splitDevice(dev);
  return lock.major === major && lock.minor === minor && lock.inode === ino;
}

/**
 * The path a `/proc/PID/fd/N` link or a loop device's backing_file names, or undefined for what
 * is no path (`pipe:[12]`, `socket:[34]`, `anon_inode:[eventfd]`). The kernel appends
 * ` (deleted)` when the file was unlinked: such a file is nobody's image any more.
 */
export function parseLinkTarget(text: string): { path: string; isDeleted: boolean } | undefined {
  const target = text.replace(/\n$/, '');
  if (!target.startsWith('/')) return undefined;
  const isDeleted = target.endsWith(' (deleted)');
  return { path: isDeleted ? target.slice(0, -' (deleted)'.length) : target, isDeleted };
}

/** Whether a /proc/PID/fdinfo/N text says the file is open for writing (O_WRONLY or O_RDWR). */
export function isWritableFdInfo(text: string): boolean | undefined {
  const m = /^flags:\s*([0-7]+)$/m.exec(text);
  if (!m) return undefined;
  return (parseInt(m[1]!, 8) & 0o3) !== 0;
}

/** One line of /proc/PID/maps that maps a file: its address range, the file's device and inode. */
export interface FileMapping {
  start: number;
  length: number;
  major: number;
  minor: number;
  inode: number;
}

/** The file mappings of a /proc/PID/maps text (anonymous ones have inode 0 and are left out). */
export function parseFileMappings(maps: string): FileMapping[] {
  const out: FileMapping[] = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ [0-9a-f]+ ([0-9a-f]+):([0-9a-f]+) (\d+)/.exec(line);
    if (!m || m[5] === '0') continue;
    const start = parseInt(m[1]!, 16);
    out.push({
      start,
      length: parseInt(m[2]!, 16) - start,
      major: parseInt(m[3]!, 16),
      minor: parseInt(m[4]!, 16),
      inode: Number(m[5]),
    });
  }
  return out;
}

/** The resident KiB of each mapping of a /proc/PID/smaps text, by its start address. */
export function parseSmapsRss(smaps: string): Map<number, number> {
  const rss = new Map<number, number>();
  let current: number | undefined;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-[0-9a-f]+ /.exec(line);
    if (head) current = parseInt(head[1]!, 16);
    const value = /^Rss:\s+(\d+) kB/.exec(line);
    if (value && current !== undefined) rss.set(current, Number(value[1]));
  }
  return rss;
}

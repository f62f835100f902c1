/**
 * Who holds an image: a process with it open (a /proc/PID/fd scan, like fuser), a lock on it in
 * /proc/locks (QEMU takes OFD locks on every image it opens), or a loop device backed by it.
 * This finds a running guest whatever its name, driver or registry record says: a QEMU whose xm
 * died, a guest started by hand, a cfg whose `name` differs from its file name.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  isLockOn,
  isWritableFdInfo,
  parseLinkTarget,
  parseProcLocks,
  type ProcLock,
} from '../formats/proc-files.js';

/** One holder of an image. */
export interface ImageHolder {
  /** The image (as the caller named it). */
  image: string;
  /** `fd`: a process has it open; `lock`: a lock whose owner is not visible here; `loop`: a loop device. */
  via: 'fd' | 'lock' | 'loop';
  pid?: number;
  /** The process name (/proc/PID/comm). */
  comm?: string;
  /** The loop device, for `loop`. */
  device?: string;
  /** Whether it may write the image (false: opened read-only; undefined: not known). */
  isWriter: boolean | undefined;
}

export interface HolderScanOptions {
  /** Where /proc and /sys are (tests). Default `/`. */
  hostRoot?: string;
  /** Processes not to count (default: this one, which may have the image open itself). */
  ignorePids?: readonly number[];
}

/** What identifies a file: device and inode, or for a block device its device number. */
type FileKey = string;

function keyOf(stat: fs.BigIntStats): FileKey {
  return stat.isBlockDevice() ? `b:${stat.rdev}` : `f:${stat.dev}:${stat.ino}`;
}

function statOrUndefined(file: string): fs.BigIntStats | undefined {
  try {
    return fs.statSync(file, { bigint: true });
  } catch {
    return undefined;
  }
}

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function listOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** A process's open file as the scan saw it; its name and open mode are read when it is asked for. */
interface OpenFile {
  pid: number;
  fd: string;
}

/** What one pass over /proc and /sys saw: every open file, lock and loop device, by file. */
export interface HolderSnapshot {
  /** The /proc the scan read. */
  readonly proc: string;
  /** Processes with a file open, by the file's key. */
  readonly openFiles: ReadonlyMap<FileKey, readonly OpenFile[]>;
  /** /proc/locks as read. */
  readonly locks: ReturnType<typeof parseProcLocks>;
  /** Loop devices, by their backing file's key. */
  readonly loops: ReadonlyMap<FileKey, readonly Omit<ImageHolder, 'image'>[]>;
  readonly ignore: ReadonlySet<number>;
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

type SnapshotWithoutLocks = Omit<HolderSnapshot, 'locks'>;

/** The snapshot's open files and loop devices: every part of a scan but /proc/locks. */
function scanFilesAndLoops(options: HolderScanOptions): SnapshotWithoutLocks {
  const root = options.hostRoot ?? '/';
  const ignore = new Set(options.ignorePids ?? [process.pid]);
  const openFiles = new Map<FileKey, OpenFile[]>();
  const proc = path.join(root, 'proc');
  for (const entry of listOrEmpty(proc)) {
    if (!/^\d+$/.test(entry) || ignore.has(Number(entry))) continue;
    const fdDir = path.join(proc, entry, 'fd');
    for (const fd of listOrEmpty(fdDir)) {
      let link: string;
      try {
        link = fs.readlinkSync(path.join(fdDir, fd));
      } catch (error) {
        // A process whose files we may not see (EACCES) hides all of them: one refusal is
        // enough, where a failed readlink each (an exception each) cost more than the scan.
        if ((error as NodeJS.ErrnoException).code === 'EACCES') break;
        continue;
      }
      // Pipes, sockets and anonymous inodes are nobody's image: no stat for them.
      if (!parseLinkTarget(link)) continue;
      const stat = statOrUndefined(path.join(fdDir, fd));
      if (!stat || !(stat.isFile() || stat.isBlockDevice())) continue;
      // The process name and open mode (comm, fdinfo) are read for a holder found, not for each
      // of the hundreds of files a host has open.
      pushTo(openFiles, keyOf(stat), { pid: Number(entry), fd });
    }
  }
  const loops = new Map<FileKey, Omit<ImageHolder, 'image'>[]>();
  const block = path.join(root, 'sys/block');
  for (const dev of listOrEmpty(block).filter((d) => d.startsWith('loop'))) {
    const backing = parseLinkTarget(readOrUndefined(path.join(block, dev, 'loop/backing_file')) ?? '');
    if (!backing || backing.isDeleted) continue;
    const stat = statOrUndefined(backing.path);
    if (!stat) continue;
    const readOnly = readOrUndefined(path.join(block, dev, 'ro'))?.trim();
    pushTo(loops, keyOf(stat), {
      via: 'loop',
      device: `/dev/${dev}`,
      isWriter: readOnly === undefined ? undefined : readOnly !== '1',
    });
  }
  return { proc, openFiles, loops, ignore };
}

/**
 * One pass over every process's open files, the lock table and the loop devices. A listing of
 * many guests asks it once and looks each guest's images up in it (findImageHolders with
 * `snapshot`), instead of walking /proc once per guest.
 */
export function scanImageHolders(options: HolderScanOptions = {}): HolderSnapshot {
  const scan = scanFilesAndLoops(options);
  return { ...scan, locks: parseProcLocks(readOrUndefined(path.join(scan.proc, 'locks')) ?? '') };
}

/**
 * scanImageHolders, with /proc/locks read on libuv's thread pool: a read of it that does not
 * closely follow another waits 7-16 ms for the kernel (reading the lock table takes its rwsem for
 * writing, which waits for an RCU grace period) without using the CPU. What the caller does before it awaits
 * the snapshot (a listing: every cfg and disk) runs during that wait instead of after it.
 */
export function scanImageHoldersSoon(options: HolderScanOptions = {}): Promise<HolderSnapshot> {
  const locks = readOnPool(path.join(options.hostRoot ?? '/', 'proc/locks'));
  const scan = scanFilesAndLoops(options);
  return locks.then((text) => ({ ...scan, locks: parseProcLocks(text ?? '') }));
}

const CHUNK = 64 * 1024;

/**
 * The text of `file`, or undefined when it cannot be read. Its first read() is one request to the
 * thread pool (fs.readFile would go back to the event loop between open, stat and read, so
 * nothing would wait beside a caller that keeps the loop busy); the rest, if any, is read here.
 */
function readOnPool(file: string): Promise<string | undefined> {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return Promise.resolve(undefined);
  }
  const first = Buffer.allocUnsafe(CHUNK);
  return new Promise((resolve) => {
    fs.read(fd, first, 0, CHUNK, null, (error, bytes) => {
      try {
        if (error) return resolve(undefined);
        const chunks = [first.subarray(0, bytes)];
        for (let n = bytes; n > 0;) {
          const chunk = Buffer.allocUnsafe(CHUNK);
          n = fs.readSync(fd, chunk, 0, CHUNK, null);
          chunks.push(chunk.subarray(0, n));
        }
        resolve(Buffer.concat(chunks).toString('utf8'));
      } catch {
        resolve(undefined);
      } finally {
        fs.closeSync(fd);
      }
    });
  });
}

const lockIndexes = new WeakMap<HolderSnapshot, Map<bigint, ProcLock[]>>();

/**
 * The snapshot's locks by inode, made at its first lookup: a listing asks about every disk of
 * every guest, and a walk of the host's whole lock table for each was a closure call per lock.
 */
function locksByInode(snapshot: HolderSnapshot): Map<bigint, ProcLock[]> {
  let index = lockIndexes.get(snapshot);
  if (index === undefined) {
    index = new Map();
    for (const lock of snapshot.locks) pushTo(index, lock.inode, lock);
    lockIndexes.set(snapshot, index);
  }
  return index;
}

/** How findImageHolders looks: a scan's options, or one scan shared by many lookups. */
export interface HolderLookupOptions extends HolderScanOptions {
  snapshot?: HolderSnapshot;
  /** Stats of images the caller has just taken, by path (a listing takes one per disk anyway). */
  stats?: ReadonlyMap<string, fs.BigIntStats>;
}

/**
 * Every holder of any of `images` (missing images have none), from `snapshot` when given (one
 * scan for many lookups), else from a fresh scan.
 */
export function findImageHolders(
  images: readonly string[],
  options: HolderLookupOptions = {},
): ImageHolder[] {
  const wanted = new Map<FileKey, { image: string; stat: fs.BigIntStats }>();
  for (const image of images) {
    const stat = options.stats?.get(image) ?? statOrUndefined(image);
    if (stat && (stat.isFile() || stat.isBlockDevice())) wanted.set(keyOf(stat), { image, stat });
  }
  if (wanted.size === 0) return [];
  const snapshot = options.snapshot ?? scanImageHolders(options);
  const holders: ImageHolder[] = [];
  const seen = new Set<string>();
  const add = (holder: ImageHolder): void => {
    const id = `${holder.image}\0${holder.via}\0${holder.pid ?? ''}\0${holder.device ?? ''}\0${holder.isWriter}`;
    if (!seen.has(id)) holders.push(holder);
    seen.add(id);
  };
  for (const [key, { image }] of wanted) {
    for (const { pid, fd } of snapshot.openFiles.get(key) ?? []) {
      const dir = path.join(snapshot.proc, String(pid));
      add({
        image,
        via: 'fd',
        pid,
        comm: readOrUndefined(path.join(dir, 'comm'))?.trim(),
        isWriter: isWritableFdInfo(readOrUndefined(path.join(dir, 'fdinfo', fd)) ?? ''),
      });
    }
  }
  // A lock whose holder the fd scan missed (another PID namespace, a process gone from view).
  for (const { image, stat } of wanted.values()) {
    if (!stat.isFile() || holders.some((h) => h.image === image)) continue;
    // The inode first: a plain comparison, where isLockOn splits the device number with bigint
    // shifts, and a listing asks for every lock of the host about every disk of every guest.
    const lock = locksByInode(snapshot)
      .get(stat.ino)
      ?.find((l) => isLockOn(l, stat.dev, stat.ino) && !(l.pid && snapshot.ignore.has(l.pid)));
    if (lock) add({ image, via: 'lock', pid: lock.pid, isWriter: undefined });
  }
  for (const [key, { image }] of wanted) {
    for (const loop of snapshot.loops.get(key) ?? []) add({ image, ...loop });
  }
  return holders;
}

/** `qemu-system-x86 (pid 4517) has it open`, for messages. */
export function describeHolder(holder: ImageHolder): string {
  if (holder.via === 'loop') return `the loop device ${holder.device ?? '?'} is backed by it`;
  if (holder.via === 'lock') return `it is locked${holder.pid ? ` by pid ${holder.pid}` : ''} (/proc/locks)`;
  return `${holder.comm ?? 'a process'} (pid ${holder.pid ?? '?'}) has it open`;
}

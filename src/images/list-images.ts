/**
 * What xen-list-images shows for every /etc/xen/*.cfg (name, memory, IP or DHCP with the MAC, the
 * config file) plus each disk: size the guest sees, space taken on the host, format, the parent of
 * a linked clone; the guest's running state; and the clones a base guest has.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import type { EventSink } from '../log/events.js';
import { assertGuestName, guestNameProblem } from '../model/guest-name.js';
import type { Paths } from '../paths.js';
import { readImageInfo } from '../tools/qemu-img.js';
import { underRoot } from '../paths.js';
import type { ListingCache, Memo } from './listing-cache.js';
import { networkFromCfg } from './guest-network.js';
import {
  findLinkedClones,
  isQcow2File,
  listCfgFiles,
  readBaseMarks,
  type LinkedClone,
} from './linked-base.js';
import { findQemuProcesses } from '../hypervisors/qemu/registry.js';
import { scanImageHoldersSoon } from './image-holders.js';
import {
  checkGuestRunning,
  checkGuestRunningNow,
  readXlDomainNames,
  type RunningCheckOptions,
  type RunningEvidence,
} from './running.js';

/** One disk in the listing. */
export interface ListedDisk {
  path: string;
  vdev: string;
  exists: boolean;
  /** raw, qcow2, or the cfg's format when the file is missing. */
  format: string;
  /** Bytes the guest sees. */
  virtualSize: number | undefined;
  /** File size (apparent), bytes. */
  apparentSize: number | undefined;
  /** Space taken on the host (st_blocks * 512), bytes. */
  allocatedSize: number | undefined;
  /** The backing image of a linked clone. */
  parent: string | undefined;
  /** Marked as the base of linked clones (read-only). */
  isBase: boolean;
}

/** One guest in the listing. */
export interface ListedGuest {
  name: string;
  cfgPath: string;
  memory: number;
  mode: 'dhcp' | 'static' | 'none';
  ips: string[];
  mac: string | undefined;
  disks: ListedDisk[];
  /** How it was seen running: by name (QEMU registry, xl) or by a process holding its images. */
  running: 'qemu' | 'xl' | 'image' | false;
  /** Guests whose overlays use this guest's images. */
  clones: string[];
  /** A cfg xl cannot parse: the listing shows what xen-tools' regexes find, and the error. */
  error: string | undefined;
}

export interface ListOptions {
  /** The config directory (`--test` of xen-list-images); default the root's /etc/xen. */
  configDir?: string;
  extension?: string;
  running?: RunningCheckOptions;
  sink?: EventSink;
  /** What earlier listings derived from unchanged cfgs and disks (the caller saves it). */
  cache?: ListingCache;
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** How many guests' files a listing reads between two turns of the event loop. */
const YIELD_EVERY = 10;

/** Every guest config, sorted by file name, with its disks and state. */
export async function listImages(paths: Paths, options: ListOptions = {}): Promise<ListedGuest[]> {
  // One pass over /proc and the loop devices for all guests, not one per guest; its read of
  // /proc/locks waits on the thread pool while the cfgs and disks are read.
  const snapshotSoon = scanImageHoldersSoon(options.running?.holders);
  const files = listCfgFiles(options.configDir ?? paths.xenDir, options.extension ?? '.cfg');
  // Each disk's stat, taken once when it is described and looked up again for its holders.
  const stats = new Map<string, fs.BigIntStats>();
  const qemuProcesses = options.running?.qemuProcesses ?? findQemuProcesses(paths);
  const read: GuestFiles[] = [];
  for (const cfgPath of files) {
    read.push(readGuestFiles(paths, cfgPath, options, stats));
    // A turn of the event loop now and then, so that the scan reads the rest of /proc/locks as
    // soon as its first read is back: the kernel lets a read that follows within a grace period
    // in at once, and makes one that comes later wait a grace period again.
    if (read.length % YIELD_EVERY === 0) await new Promise(setImmediate);
  }
  const shared = {
    ...options,
    running: {
      ...options.running,
      qemuProcesses,
      runtimeNames: new Set(readdirOrEmpty(path.join(paths.stateDir, 'qemu'))),
      // On Xen, one `xl list` for all guests instead of an `xl list NAME` each.
      xlDomains: options.running?.xlDomains ?? (await readXlDomainNames(options.running)),
      holders: { ...options.running?.holders, snapshot: await snapshotSoon, stats },
    },
  };
  const guests: ListedGuest[] = [];
  for (const guestFiles of read) {
    // One after the other: a guest that needs a process (qemu-img, xl) waits for it alone.
    const guest = describeGuest(paths, guestFiles, shared);
    guests.push(guest instanceof Promise ? await guest : guest);
  }
  return guests;
}

/** What a listing takes from a cfg's text: all it shows of the cfg, kept by the listing cache. */
interface CfgSummary {
  name: string;
  memory: number;
  mode: ListedGuest['mode'];
  ips: string[];
  mac?: string;
  /**
   * The disks, CD-ROMs and empty targets left out, as the cfg names them, with the path under the
   * root of an absolute target (a relative one depends on the working directory).
   */
  disks: DiskSummary[];
  /** The base images its notes record. */
  bases: string[];
  /** Why xl's grammar or the name check refused it: the rest is what xen-tools' regexes find. */
  error?: string;
}

/** A disk as the cfg names it. */
interface DiskSummary {
  target: string;
  path?: string;
  vdev: string;
  format: string;
  access: string;
  /**
   * Whether the file starts with the qcow2 magic, as a listing found it (kept by the listing cache
   * in its cfg's entry, with the disk's own key; see isQcow2Disk).
   */
  qcow2?: Memo<boolean>;
}

/** The summary of the cfg `text` of `cfgPath`. */
function summarizeCfg(paths: Paths, text: string, cfgPath: string): CfgSummary {
  let config;
  try {
    config = parseXlCfg(text, cfgPath);
    assertGuestName(config.name, cfgPath);
  } catch (error) {
    return {
      name: /^\s*name\s*=\s*["']([^'"]+)['"]/im.exec(text)?.[1] ?? path.basename(cfgPath),
      memory: Number(/^\s*memory[^0-9]*([0-9]+)/im.exec(text)?.[1] ?? 0),
      mode: 'none',
      ips: [],
      disks: [],
      bases: [],
      error: error instanceof Error ? error.message : String(error),
    };
  }
  const net = networkFromCfg(config);
  return {
    name: config.name,
    memory: config.memory,
    mode: net.mode,
    ips: net.addresses.map((a) => a.address),
    mac: net.mac,
    disks: config.disks
      .filter((d) => !d.isCdrom && d.target !== '')
      .map((d) => ({
        target: d.target,
        path: path.isAbsolute(d.target) ? underRoot(paths, d.target) : undefined,
        vdev: d.vdev,
        format: d.format,
        access: d.access,
      })),
    bases: readBaseMarks(text).map((m) => m.image),
  };
}

/** Whether `value` (from the cache file) has a summary's shape. */
function isCfgSummary(value: unknown): value is CfgSummary {
  const v = value as Partial<CfgSummary> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.memory === 'number' &&
    Array.isArray(v.disks) &&
    Array.isArray(v.bases) &&
    Array.isArray(v.ips)
  );
}

/** The summary of the cfg at `cfgPath`: from the cache when its stat still matches, else read. */
function readCfgSummary(paths: Paths, cfgPath: string, cache: ListingCache | undefined): CfgSummary {
  const read = (): CfgSummary => summarizeCfg(paths, fs.readFileSync(cfgPath, 'utf8'), cfgPath);
  const stat = cache && fs.statSync(cfgPath, { bigint: true, throwIfNoEntry: false });
  return cache && stat ? cache.through(cfgPath, stat, isCfgSummary, read) : read();
}

/**
 * What a guest's files tell: its cfg's summary, and each disk's stat and format. Kept for every
 * guest until the holder scan is done, so it holds no more than describeGuest needs.
 */
interface GuestFiles {
  cfgPath: string;
  summary: CfgSummary;
  disks: ListedDisk[];
  /** The disks that are qcow2 images, for readQcow2Info. */
  qcow2: ListedDisk[];
  bases: ReadonlySet<string>;
  /** The disks a running instance would write (the cfg's read-only disks left out). */
  images: string[];
}

const NO_BASES: ReadonlySet<string> = new Set();

/** The cfg at `cfgPath` and its disks (none for a cfg with an error), each disk stat'ed once. */
function readGuestFiles(
  paths: Paths,
  cfgPath: string,
  options: ListOptions,
  stats: Map<string, fs.BigIntStats>,
): GuestFiles {
  const summary = readCfgSummary(paths, cfgPath, options.cache);
  const bases = summary.bases.length > 0 ? new Set(summary.bases) : NO_BASES;
  const qcow2: ListedDisk[] = [];
  const disks: ListedDisk[] = [];
  const images: string[] = [];
  if (summary.error !== undefined) return { cfgPath, summary, disks, qcow2, bases, images };
  // guestDisksOf's disks, CD-ROMs left out, each stat'ed once by describeDisk (not lstat'ed first).
  for (const config of summary.disks) {
    const file = config.path ?? underRoot(paths, config.target);
    disks.push(describeDisk(file, config, bases, stats, qcow2, options.cache));
    if (config.access !== 'ro') images.push(file);
  }
  return { cfgPath, summary, disks, qcow2, bases, images };
}

/**
 * One guest, without a promise when nothing about it needs waiting for (no qcow2 disk, no base
 * images, its running state answered by the shared scans): the common case of a listing.
 */
function describeGuest(
  paths: Paths,
  files: GuestFiles,
  options: ListOptions,
): ListedGuest | Promise<ListedGuest> {
  const { cfgPath, summary, disks, qcow2, bases, images } = files;
  if (summary.error !== undefined) {
    return {
      name: summary.name,
      cfgPath,
      memory: summary.memory,
      mode: 'none',
      ips: [],
      mac: undefined,
      disks: [],
      running: false,
      clones: [],
      error: summary.error,
    };
  }
  const fileName = path.basename(cfgPath, options.extension ?? '.cfg');
  const identity = {
    name: summary.name,
    // The file name is the guest's name too when it is one (xen-tools' NAME.cfg).
    aliases: guestNameProblem(fileName) === undefined ? [fileName] : [],
    images,
    // A base image read by its linked clones' QEMUs: those run, not this guest.
    isReadingAllowed: true,
  };
  const listed = (seen: RunningEvidence, clones: readonly LinkedClone[]): ListedGuest => ({
    name: summary.name,
    cfgPath,
    memory: summary.memory,
    mode: summary.mode,
    ips: summary.ips,
    mac: summary.mac,
    disks,
    running: seen.running ? seen.by : false,
    clones: [...new Set(clones.map((c) => c.name))],
    error: undefined,
  });
  if (qcow2.length === 0 && bases.size === 0) {
    const seen = checkGuestRunningNow(identity, options.running ?? {});
    if (seen !== undefined) return listed(seen, []);
  }
  return (async () => {
    // Only a qcow2 image needs a process (qemu-img) to tell its size and backing file.
    await Promise.all(qcow2.map((d) => readQcow2Info(d, options.sink)));
    const seen = await checkGuestRunning(identity, paths, options.running);
    const clones = bases.size > 0 ? await findLinkedClones(paths, [...bases], options.sink) : [];
    return listed(seen, clones);
  })();
}

/** The disk's own stat (not following a link); undefined when nothing can be seen there. */
function lstatOrUndefined(file: string): fs.BigIntStats | undefined {
  try {
    return fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/**
 * One disk: one lstat, and for a plain file an open for its first bytes (the qcow2 magic); a
 * link or a device is stat'ed through. Its stat is kept in `stats` for the holder lookup; a
 * qcow2 image goes to `qcow2`, for readQcow2Info to fill in its size and parent.
 */
function describeDisk(
  file: string,
  config: DiskSummary,
  bases: ReadonlySet<string>,
  stats: Map<string, fs.BigIntStats>,
  qcow2: ListedDisk[],
  cache: ListingCache | undefined,
): ListedDisk {
  const linkStat = lstatOrUndefined(file);
  const disk: ListedDisk = {
    path: file,
    vdev: config.vdev,
    exists: linkStat !== undefined,
    format: config.format,
    virtualSize: undefined,
    apparentSize: undefined,
    allocatedSize: undefined,
    parent: undefined,
    isBase: bases.has(file),
  };
  if (!linkStat) return disk;
  const stat = linkStat.isFile() ? linkStat : fs.statSync(file, { bigint: true });
  stats.set(file, stat);
  if (stat.isFile()) {
    disk.apparentSize = Number(stat.size);
    disk.allocatedSize = Number(stat.blocks) * 512;
    disk.virtualSize = Number(stat.size);
    disk.format = 'raw';
    if (isQcow2Disk(file, stat, config, cache)) qcow2.push(disk);
  }
  return disk;
}

const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

/**
 * Whether the plain file `file` (stat'ed as `stat`) starts with the qcow2 magic. With a cache, the
 * answer is kept in `config` (the disk of a cfg summary the cache keeps) with the disk's own key,
 * so a disk changed since is read again; a cfg read again brings its disks' formats anew.
 */
function isQcow2Disk(
  file: string,
  stat: fs.BigIntStats,
  config: DiskSummary,
  cache: ListingCache | undefined,
): boolean {
  if (!cache) return isQcow2File(file);
  const kept = cache.recall(config.qcow2, stat, isBoolean);
  if (kept !== undefined) return kept;
  const value = isQcow2File(file);
  config.qcow2 = cache.memo(stat, value);
  return value;
}

/** The format, virtual size and parent of a qcow2 disk, as qemu-img tells them. */
async function readQcow2Info(disk: ListedDisk, sink: EventSink | undefined): Promise<void> {
  const info = await readImageInfo(disk.path, { sink });
  disk.format = info.format;
  disk.virtualSize = info.virtualSize;
  disk.parent = info.backingFile ? path.resolve(path.dirname(disk.path), info.backingFile) : undefined;
}

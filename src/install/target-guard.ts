/**
 * Keeps a root tree under construction from outliving its installer: debootstrap and mmdebstrap
 * mount /proc, /sys and /dev inside the target and run dpkg in a chroot there; if they are killed
 * (cancellation, SIGTERM, a crash) mounts and chrooted processes can survive them. These functions
 * find and remove both, so the caller's undo can delete the directory safely.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile, readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import type { StepContext } from '../plan/plan.js';
import { runCommand } from '../tools/exec.js';

export interface MountEntry {
  mountPoint: string;
  fsType: string;
}

/** Decodes the octal escapes (`\040` for a space) the kernel uses in mountinfo. */
function decodeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Parses /proc/self/mountinfo text into mount points and filesystem types. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    if (separator < 0 || mountPoint === undefined || fsType === undefined) continue;
    entries.push({ mountPoint: decodeMountField(mountPoint), fsType });
  }
  return entries;
}

/** The canonical path of `dir` (symlinks resolved), or `dir` itself if it no longer exists. */
async function canonical(dir: string): Promise<string> {
  try {
    return await realpath(dir);
  } catch {
    return path.resolve(dir);
  }
}

/** Mounts strictly below `dir` (not `dir` itself), deepest first: the order to unmount them in. */
export async function listMountsUnder(dir: string, mountInfo?: string): Promise<MountEntry[]> {
  const root = await canonical(dir);
  const text = mountInfo ?? (await readFile('/proc/self/mountinfo', 'utf8'));
  const prefix = root === '/' ? '/' : `${root}/`;
  return parseMountInfo(text)
    .filter((m) => m.mountPoint.startsWith(prefix) && m.mountPoint !== root)
    .reverse(); // mountinfo lists parents before children: reversed, children come first.
}

export interface TreeProcess {
  pid: number;
  command: string;
}

interface ProcStat {
  command: string;
  state: string;
  /** Start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  startTicks: number;
}

/** Reads /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses. */
async function readProcStat(pid: string): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  return {
    command: text.slice(text.indexOf('(') + 1, close),
    state: fields[0] ?? '?',
    startTicks: Number(fields[19] ?? 0),
  };
}

const within = (p: string, root: string): boolean => p === root || p.startsWith(`${root}/`);

/** Whether the process works in `root` without being chrooted there: its cwd or an open file. */
async function usesTree(pid: string, root: string): Promise<boolean> {
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
  if (within(cwd, root)) return true;
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    if (within(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''), root)) return true;
  }
  return false;
}

/**
 * Processes chrooted into `dir` (or below it), plus, when `startedAfterTicks` is given, processes
 * started after that moment whose cwd or open files are inside `dir`: the installer's helpers
 * that run outside the chroot (mmdebstrap downloads with the host's apt) and outlive a killed
 * installer. Zombies are left out: they hold nothing and cannot be killed.
 */
export async function listProcessesInTree(dir: string, startedAfterTicks?: number): Promise<TreeProcess[]> {
  const root = await canonical(dir);
  const found: TreeProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const procRoot = await readlink(`/proc/${name}/root`).catch(() => undefined);
    if (procRoot === undefined) continue; // gone already, or not ours to see
    const stat = await readProcStat(name);
    if (!stat || stat.state === 'Z') continue;
    const chrooted = within(procRoot.replace(/ \(deleted\)$/, ''), root);
    const helper = !chrooted && startedAfterTicks !== undefined && stat.startTicks >= startedAfterTicks;
    if (chrooted || (helper && (await usesTree(name, root))))
      found.push({ pid: Number(name), command: stat.command });
  }
  return found;
}

/** The start time of this process, in the clock ticks of /proc/PID/stat. */
export async function ownStartTicks(): Promise<number> {
  return (await readProcStat(String(process.pid)))?.startTicks ?? Number.MAX_SAFE_INTEGER;
}

export interface ReleaseReport {
  killed: TreeProcess[];
  unmounted: string[];
}

/**
 * Kills every process chrooted into `dir` (and every helper started after xenkit that works in it)
 * and unmounts everything mounted below it. Processes go
 * first because a busy mount cannot be unmounted cleanly; a mount that still refuses is detached
 * lazily. Throws E_TARGET_BUSY only if something survives all of that.
 */
export async function releaseTarget(dir: string, sink?: EventSink): Promise<ReleaseReport> {
  const killed: TreeProcess[] = [];
  // Anything started after xenkit itself that works in the staging directory is the installer's.
  const since = await ownStartTicks();
  for (let attempt = 0; attempt < 50; attempt++) {
    const procs = await listProcessesInTree(dir, since);
    if (procs.length === 0) break;
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGKILL');
        if (!killed.some((k) => k.pid === p.pid)) killed.push(p);
      } catch {
        // exited between listing and killing
      }
    }
    await sleep(100);
  }
  const unmounted: string[] = [];
  for (const mount of await listMountsUnder(dir)) {
    const plain = await runCommand(['umount', mount.mountPoint], { sink, allowFailure: true });
    if (plain.exitCode !== 0) {
      await runCommand(['umount', '--lazy', mount.mountPoint], { sink, allowFailure: true });
    }
    unmounted.push(mount.mountPoint);
  }
  const leftProcs = await listProcessesInTree(dir, since);
  const leftMounts = await listMountsUnder(dir);
  if (leftProcs.length > 0 || leftMounts.length > 0) {
    const what = [
      ...leftProcs.map((p) => `process ${p.pid} (${p.command})`),
      ...leftMounts.map((m) => m.mountPoint),
    ];
    throw runtimeError(
      'E_TARGET_BUSY',
      `root tree "${dir}": could not release ${what.join(', ')}`,
      'stop those processes and unmount those paths by hand, then delete the directory',
    );
  }
  return { killed, unmounted };
}

/** Describes the guard undo entry, so a later step can find or release it. */
export function guardDescription(dir: string): string {
  return `stop processes and unmount everything inside ${dir}`;
}

/**
 * Registers an undo that releases `dir` (kills chrooted processes, unmounts what is below it);
 * it runs before the caller's removal of the directory, which was registered earlier.
 */
export function guardTarget(dir: string, ctx: Pick<StepContext, 'undo' | 'sink'>): void {
  ctx.undo.push(guardDescription(dir), async () => {
    await releaseTarget(dir, ctx.sink);
  });
}

/**
 * Who a process is, beyond its pid: a pid is recycled, so a process is named by its pid, its start
 * time (clock ticks since boot, /proc/PID/stat field 22), the boot it started in, and the program
 * it runs. A record of a process of a dead run is acted on only if all of these still match.
 */
import fs from 'node:fs';
import path from 'node:path';

/** A process as a run journal records it. */
export interface ProcessIdentity {
  pid: number;
  /** /proc/PID/stat starttime: ticks since boot. */
  startTime: number;
  /** /proc/sys/kernel/random/boot_id of the boot it ran in. */
  bootId: string;
  /** Base name of argv[0] (`cp`, `qemu-storage-daemon`, `node`). */
  argv0: string;
  /** For a wrapper that execs another program (`chroot DIR apt-get`): that program's base name. */
  thenRuns?: string;
}

let bootIdCache: string | undefined;

/** This boot's id ('' where /proc has none). */
export function currentBootId(): string {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      bootIdCache = '';
    }
  }
  return bootIdCache;
}

/** Parses /proc/PID/stat: the parent pid and start time (the command may hold spaces and parens). */
export function parseProcStat(text: string): { ppid: number; startTime: number } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Fields after the command: state is field 3, ppid 4, starttime 22.
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const ppid = Number(rest[1]);
  const startTime = Number(rest[19]);
  return Number.isFinite(ppid) && Number.isFinite(startTime) ? { ppid, startTime } : undefined;
}

function readStat(pid: number): { ppid: number; startTime: number } | undefined {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Base name of the program process `pid` runs (argv[0]), or undefined when it is gone. */
export function argv0Of(pid: number): string | undefined {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const first = cmdline.split('\0')[0];
    if (first) return path.basename(first);
    // A zombie or kernel thread has no cmdline: fall back to comm.
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The identity of the live process `pid` (undefined when it is gone). */
export function identifyProcess(pid: number, argv0?: string): ProcessIdentity | undefined {
  const stat = readStat(pid);
  const name = argv0 ?? argv0Of(pid);
  if (!stat || name === undefined) return undefined;
  return { pid, startTime: stat.startTime, bootId: currentBootId(), argv0: path.basename(name) };
}

/** This process. */
export function selfIdentity(): ProcessIdentity {
  return (
    identifyProcess(process.pid) ?? {
      pid: process.pid,
      startTime: -1,
      bootId: currentBootId(),
      argv0: path.basename(process.argv[0] ?? 'node'),
    }
  );
}

/** Whether the process `who` names still runs: same boot, same start time, same program. */
export function isSameProcessAlive(who: ProcessIdentity): boolean {
  if (who.bootId !== currentBootId()) return false;
  const stat = readStat(who.pid);
  if (!stat || stat.startTime !== who.startTime) return false;
  const name = argv0Of(who.pid);
  // A process that exec'd another program is not the one recorded (unless a wrapper recorded so).
  return name === undefined || name === who.argv0 || name === who.thenRuns;
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every live descendant of `pid` (children first found, then theirs), from /proc. */
export function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = parents.get(stat.ppid) ?? [];
    list.push(Number(entry));
    parents.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift() as number) ?? []) {
      if (found.includes(child)) continue;
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Every live process whose environment holds the entry `name=value` (from /proc/PID/environ). */
export function processesWithEnv(name: string, value: string): number[] {
  const entry = `${name}=${value}`;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  return pids.map(Number).filter((pid) => pid !== process.pid && environOf(pid).includes(entry));
}

function environOf(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return []; // gone, a kernel thread, or not ours to read
  }
}

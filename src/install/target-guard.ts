/**
 * Keeps a root tree under construction from outliving its installer: debootstrap and mmdebstrap
 * mount /proc, /sys and /dev inside the target and run dpkg in a chroot there; if they are killed
 * (cancellation, SIGTERM, a crash) mounts and chrooted processes can survive them. These functions
 * find and remove both, so the caller's undo can delete the directory safely.
 */
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

/** Processes whose root directory (chroot) is `dir` or below it. */
export async function listProcessesInTree(dir: string): Promise<TreeProcess[]> {
  const root = await canonical(dir);
  const found: TreeProcess[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let procRoot: string;
    try {
      procRoot = (await readlink(`/proc/${name}/root`)).replace(/ \(deleted\)$/, '');
    } catch {
      continue; // gone already, or not ours to see
    }
    if (procRoot !== root && !procRoot.startsWith(`${root}/`)) continue;
    // /proc/PID/stat is "pid (comm) state ...": a zombie holds nothing and cannot be killed.
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const match = /^\d+ \((.*)\) (\S)/s.exec(stat);
    if (!match || match[2] === 'Z') continue;
    found.push({ pid: Number(name), command: match[1] ?? '?' });
  }
  return found;
}

export interface ReleaseReport {
  killed: TreeProcess[];
  unmounted: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Kills every process chrooted into `dir` and unmounts everything mounted below it. Processes go
 * first because a busy mount cannot be unmounted cleanly; a mount that still refuses is detached
 * lazily. Throws E_TARGET_BUSY only if something survives all of that.
 */
export async function releaseTarget(dir: string, sink?: EventSink): Promise<ReleaseReport> {
  const killed: TreeProcess[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    const procs = (await listProcessesInTree(dir)).filter((p) => p.pid !== process.pid);
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
  const leftProcs = await listProcessesInTree(dir);
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

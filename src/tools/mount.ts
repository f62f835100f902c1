/** mount/umount: filesystems mounted for a step, with an undo; and the kernel's mount table. */
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdir, mkdtemp, readFile, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EventSink } from '../log/events.js';
import type { StepScope } from '../plan/plan.js';
import { XenkitError } from '../errors.js';
import { runCommand } from './exec.js';

export interface MountOptions {
  /** `-t` value; mount probes when absent. */
  fsType?: string | undefined;
  /** `-o` options, e.g. `['ro']` or `['noatime']`. */
  options?: string[] | undefined;
}

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  /** `major:minor` of the mounted device (st_dev of the mount point's root). */
  majorMinor: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/**
 * Options for every mount of a guest's filesystem on the host: the guest's setuid programs and
 * device nodes must not work there (another user could otherwise run them as root meanwhile).
 */
export const GUEST_MOUNT_OPTIONS: readonly string[] = ['nosuid', 'nodev'];

/** A mount point no other user can reach: `dir` inside a fresh 0700 directory. */
export interface PrivateMountPoint {
  dir: string;
  /** Removes `dir` and its private parent (both empty by then). */
  remove(): Promise<void>;
}

/**
 * Makes `TMP/PREFIXxxxxxx/root` (the parent 0700). A mounted filesystem's root brings its own
 * mode (0755 for a guest) to the mount point itself, so the mount point alone protects nothing.
 */
export async function makePrivateMountPoint(prefix: string): Promise<PrivateMountPoint> {
  const box = await mkdtemp(path.join(tmpdir(), prefix));
  const dir = path.join(box, 'root');
  await mkdir(dir, { mode: 0o700 });
  return {
    dir,
    remove: async () => {
      await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await rmdir(box);
    },
  };
}

/** Where `makePrivateMountPoint(prefix)` puts the mount point, for dry runs. */
export function describePrivateMountPoint(prefix: string): string {
  return path.join(tmpdir(), `${prefix}XXXXXX`, 'root');
}

/** The argv that mounts `device` on `dir`. */
export function mountArgv(device: string, dir: string, options: MountOptions = {}): string[] {
  const opts = options.options?.filter(Boolean) ?? [];
  return [
    'mount',
    ...(options.fsType ? ['-t', options.fsType] : []),
    ...(opts.length > 0 ? ['-o', opts.join(',')] : []),
    '--',
    device,
    dir,
  ];
}

/** The argv that unmounts `dir` (lazily as a last resort). */
export function umountArgv(dir: string, lazy = false): string[] {
  return ['umount', ...(lazy ? ['--lazy'] : []), '--', dir];
}

/** The undo-stack description of a mount (unique while it is mounted). */
export function mountUndoDescription(dir: string): string {
  return `unmount ${dir}`;
}

/** Decodes the octal escapes (`\040` for a space) the kernel writes in mount tables. */
export function unescapeMountField(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6) continue;
    entries.push({
      majorMinor: fields[2] ?? '',
      mountPoint: unescapeMountField(fields[4] ?? ''),
      fsType: fields[dash + 1] ?? '',
      source: unescapeMountField(fields[dash + 2] ?? ''),
    });
  }
  return entries;
}

/** The current mount table of this process's mount namespace. */
export async function readMountTable(path = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(path, 'utf8'));
}

/** Whether something is mounted on `dir` right now. */
export async function isMounted(dir: string): Promise<boolean> {
  return (await readMountTable()).some((e) => e.mountPoint === dir);
}

/**
 * Mounts `device` on `dir` and registers the unmount on `ctx.undo`. If mount is cancelled after
 * the kernel mounted, the stray mount is removed here before the error propagates.
 */
export async function mountFs(
  device: string,
  dir: string,
  ctx: StepScope,
  options: MountOptions = {},
): Promise<void> {
  const intent = ctx.undo.expect(mountUndoDescription(dir), { kind: 'mount', dir });
  try {
    await runCommand(mountArgv(device, dir, options), { sink: ctx.sink, signal: ctx.signal });
  } catch (error) {
    if (await isMounted(dir)) await unmountDir(dir, ctx.sink);
    intent.cancel();
    throw error;
  }
  ctx.undo.push(mountUndoDescription(dir), () => unmountDir(dir, ctx.sink), intent);
}

/** Unmounts `dir` in the normal flow and drops its undo entry. */
export async function unmountFs(dir: string, ctx: StepScope): Promise<void> {
  await unmountDir(dir, ctx.sink);
  ctx.undo.release(mountUndoDescription(dir));
}

/**
 * Unmounts `dir`, retrying while it is busy (a process that just exited, a udev probe), then
 * detaching it lazily so nothing stays visible. Never cancelled: it runs while unwinding.
 */
export async function unmountDir(dir: string, sink?: EventSink, attempts = 6): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const result = await runCommand(umountArgv(dir), { sink, allowFailure: true });
    if (result.exitCode === 0 || /not mounted|no mount point/i.test(result.stderr)) return;
    last = result.stderr.trim();
    if (!/busy/i.test(result.stderr)) break;
    await sleep(100 * 2 ** attempt);
  }
  const lazy = await runCommand(umountArgv(dir, true), { sink, allowFailure: true });
  if (lazy.exitCode === 0 || /not mounted/i.test(lazy.stderr)) return;
  throw new XenkitError('E_UMOUNT', `could not unmount ${dir}: ${last || lazy.stderr.trim()}`, {
    hint: `find what still uses it with: fuser -vm ${dir}`,
  });
}

/**
 * A `--partitions` guest's staging tree split by mount point: each volume's subtree (`/home`,
 * `/var`) is moved out beside the staging root and its mount point left behind as an empty
 * directory with the same owner and mode, so every filesystem is made and filled from its own
 * tree (mkfs -d where the filesystem allows, as for a single root) and holds exactly the files
 * xen-tools' install into the mounted volumes would have put on it. Children move out before
 * their parents (/var/tmp before /var).
 */
import { chmod, chown, lstat, mkdir, rename, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { PlanAction, StepScope } from '../plan/plan.js';

/** A volume to split off: its section name and mount point. */
export interface SplitVolume {
  name: string;
  mountpoint: string;
}

/** Where the subtree of volume `name` goes: `<staging>/../volumes/<name>`. */
export function volumeTreeDir(staging: string, name: string): string {
  return path.join(path.dirname(staging), 'volumes', name);
}

/** The undo entry's description (released once the staging tree is gone). */
export function splitUndoDescription(staging: string): string {
  return `move the volume trees back into ${staging}`;
}

const deepestFirst = (volumes: readonly SplitVolume[]): SplitVolume[] =>
  [...volumes].sort((a, b) => b.mountpoint.length - a.mountpoint.length);

/** The dry-run view of `splitTree`. */
export function describeSplitTree(staging: string, volumes: readonly SplitVolume[]): PlanAction[] {
  return deepestFirst(volumes).flatMap((v) => [
    {
      kind: 'note' as const,
      text: `move ${path.join(staging, v.mountpoint)} to ${volumeTreeDir(staging, v.name)}`,
    },
    { kind: 'mkdir' as const, path: path.join(staging, v.mountpoint) },
  ]);
}

/** Moves each volume's subtree out of `staging`, leaving an empty mount point; undone by moving it back. */
export async function splitTree(
  staging: string,
  volumes: readonly SplitVolume[],
  ctx: Pick<StepScope, 'undo'>,
): Promise<void> {
  await mkdir(path.dirname(volumeTreeDir(staging, 'x')), { mode: 0o700 });
  const moved: { from: string; to: string; made: boolean }[] = [];
  ctx.undo.push(splitUndoDescription(staging), async () => {
    for (const m of moved.reverse()) {
      await rmdir(m.from).catch(() => undefined);
      if (m.made) await rmdir(m.to).catch(() => undefined);
      else await rename(m.to, m.from);
    }
  });
  for (const v of deepestFirst(volumes)) {
    const from = path.join(staging, v.mountpoint);
    const to = volumeTreeDir(staging, v.name);
    await checkRealParents(staging, v.mountpoint);
    const stat = await lstat(from).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (stat === undefined) {
      // A mount point the installed system has no directory for (/srv/www): both made empty.
      await mkdir(to, { mode: 0o755 });
      await mkdir(from, { mode: 0o755, recursive: true });
      moved.push({ from, to, made: true });
      continue;
    }
    if (!stat.isDirectory())
      throw runtimeError(
        'E_PARTITIONS',
        `mount point ${v.mountpoint} of [${v.name}] is ${stat.isSymbolicLink() ? 'a symlink' : 'not a directory'} in the installed system`,
        'choose a mount point that is a directory in the guest (e.g. /var, not /var/run)',
      );
    await rename(from, to);
    moved.push({ from, to, made: false });
    await mkdir(from);
    await chown(from, stat.uid, stat.gid);
    await chmod(from, stat.mode & 0o7777);
  }
}

/** Refuses a mount point below a symlink of the guest tree (merged /usr's /lib -> usr/lib). */
async function checkRealParents(staging: string, mountpoint: string): Promise<void> {
  const parts = mountpoint.split('/').filter(Boolean).slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = `/${parts.slice(0, i).join('/')}`;
    const stat = await lstat(path.join(staging, dir)).catch(() => undefined);
    if (stat?.isSymbolicLink())
      throw runtimeError(
        'E_PARTITIONS',
        `mount point ${mountpoint} lies under ${dir}, a symlink in the installed system`,
        `mount the volume where the symlink points instead of ${dir}`,
      );
  }
}

/**
 * Population through a mount: for what mkfs cannot fill itself (xfs, btrfs trees with device
 * nodes, `make_fs_*` overrides, `--dontformat`). Every loop device and mount is on the undo stack
 * and released again in the normal flow.
 */
import { mkdtemp, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PlanAction } from '../plan/plan.js';
import { copyTree, copyTreeArgv } from '../tools/cp.js';
import { attachLoop, attachLoopArgv, detachLoop, detachLoopArgv } from '../tools/losetup.js';
import { mountArgv, mountFs, umountArgv, unmountFs } from '../tools/mount.js';
import type { StorageContext } from './context.js';

export interface PopulateViaMountOptions {
  /** Image file (attached to a loop device) or block device holding the filesystem. */
  target: string;
  /** The root tree to copy in. */
  tree: string;
  /** `-t` for mount; probed by mount when absent. */
  fsType?: string | undefined;
}

/** The dry-run view of `populateViaMount` (loop device and mount point are picked at run time). */
export function describePopulateViaMount(options: PopulateViaMountOptions, isFile = true): PlanAction[] {
  const device = isFile ? '/dev/loopN' : options.target;
  const dir = path.join(tmpdir(), 'xenkit-mnt-XXXXXX');
  return [
    ...(isFile ? [{ kind: 'run' as const, argv: attachLoopArgv(options.target) }] : []),
    { kind: 'mkdir', path: dir },
    { kind: 'run', argv: mountArgv(device, dir, { fsType: options.fsType }) },
    { kind: 'run', argv: copyTreeArgv(options.tree, dir) },
    { kind: 'run', argv: umountArgv(dir) },
    { kind: 'remove', path: dir },
    ...(isFile ? [{ kind: 'run' as const, argv: detachLoopArgv(device) }] : []),
  ];
}

/** Mounts the filesystem on `target` at a private temporary directory and copies `tree` into it. */
export async function populateViaMount(options: PopulateViaMountOptions, ctx: StorageContext): Promise<void> {
  const isFile = (await stat(options.target)).isFile();
  const device = isFile ? await attachLoop(options.target, ctx) : options.target;
  const dir = await mkdtemp(path.join(tmpdir(), 'xenkit-mnt-'));
  const dirUndo = `remove mount point ${dir}`;
  ctx.undo.push(dirUndo, () => rmdir(dir));
  await mountFs(device, dir, ctx, { fsType: options.fsType });
  await copyTree(options.tree, dir, { sink: ctx.sink, signal: ctx.signal });
  await unmountFs(dir, ctx);
  await rmdir(dir);
  ctx.undo.release(dirUndo);
  if (isFile) await detachLoop(device, ctx);
}

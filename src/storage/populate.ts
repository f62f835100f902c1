/**
 * Population through a mount: for what mkfs cannot fill itself (xfs, btrfs trees with device
 * nodes, `make_fs_*` overrides, `--dontformat`). Every loop device and mount is on the undo stack
 * and released again in the normal flow.
 */
import { stat } from 'node:fs/promises';
import type { PlanAction, StepScope } from '../plan/plan.js';
import { copyTree, copyTreeArgv } from '../tools/cp.js';
import { attachLoop, attachLoopArgv, detachLoop, detachLoopArgv } from '../tools/losetup.js';
import {
  describePrivateMountPoint,
  GUEST_MOUNT_OPTIONS,
  makePrivateMountPoint,
  mountArgv,
  mountFs,
  umountArgv,
  unmountFs,
} from '../tools/mount.js';

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
  const dir = describePrivateMountPoint('xenkit-mnt-');
  return [
    ...(isFile ? [{ kind: 'run' as const, argv: attachLoopArgv(options.target) }] : []),
    { kind: 'mkdir', path: dir, mode: 0o700 },
    { kind: 'run', argv: mountArgv(device, dir, mountOptions(options)) },
    { kind: 'run', argv: copyTreeArgv(options.tree, dir) },
    { kind: 'run', argv: umountArgv(dir) },
    { kind: 'remove', path: dir },
    ...(isFile ? [{ kind: 'run' as const, argv: detachLoopArgv(device) }] : []),
  ];
}

function mountOptions(options: PopulateViaMountOptions): { fsType: string | undefined; options: string[] } {
  return { fsType: options.fsType, options: [...GUEST_MOUNT_OPTIONS] };
}

/** Mounts the filesystem on `target` at a private temporary directory and copies `tree` into it. */
export async function populateViaMount(options: PopulateViaMountOptions, ctx: StepScope): Promise<void> {
  const isFile = (await stat(options.target)).isFile();
  const device = isFile ? await attachLoop(options.target, ctx) : options.target;
  const point = await makePrivateMountPoint('xenkit-mnt-');
  const dir = point.dir;
  const dirUndo = `remove mount point ${dir}`;
  ctx.undo.push(dirUndo, () => point.remove());
  await mountFs(device, dir, ctx, mountOptions(options));
  await copyTree(options.tree, dir, { sink: ctx.sink, signal: ctx.signal });
  await unmountFs(dir, ctx);
  await point.remove();
  ctx.undo.release(dirUndo);
  if (isFile) await detachLoop(device, ctx);
}

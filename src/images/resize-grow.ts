/**
 * The two halves of growing a guest's disk: the container (a sparse image file, a qcow2 image or
 * a logical volume), then the filesystem in it. ext2/3/4 grow offline, after the forced check
 * resize2fs demands of a filesystem that was ever mounted; xfs and btrfs only grow while mounted.
 * A container's undo (shrinking it back) is only safe until the filesystem has grown, so the
 * caller releases it right after.
 */
import fs from 'node:fs/promises';
import { runtimeError } from '../errors.js';
import type { FsType } from '../model/guest-spec.js';
import type { PlanAction, StepScope } from '../plan/plan.js';
import { probeBlock } from '../tools/blkid.js';
import { runCommand } from '../tools/exec.js';
import { extendVolume, lvextendArgv, reduceVolume } from '../tools/lvm.js';
import { resizeImage, resizeImageArgv } from '../tools/qemu-img.js';
import { closeRawView, mountTree, openRawView, unmountTree } from './image-access.js';
import { identityOf } from '../plan/run-journal.js';

/** What holds a disk: an image file (raw or qcow2) or a logical volume. */
export type Container =
  | { kind: 'file'; path: string; format: 'raw' | 'qcow2'; sizeBytes: number }
  | { kind: 'volume'; path: string; vg: string; lv: string; sizeBytes: number };

/** The filesystems xenkit grows. */
export const GROWABLE_FS: readonly FsType[] = ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs'];

/** The argv lists that grow the filesystem `fs` on `device` (mounted on `mountPoint` for xfs/btrfs). */
export function growFsArgvs(fs: FsType, device: string, mountPoint: string): string[][] {
  switch (fs) {
    case 'ext2':
    case 'ext3':
    case 'ext4':
      return [
        ['e2fsck', '-f', '-p', device],
        ['resize2fs', device],
      ];
    case 'xfs':
      return [['xfs_growfs', mountPoint]];
    case 'btrfs':
      return [['btrfs', 'filesystem', 'resize', 'max', mountPoint]];
  }
}

/** The undo description of growing `container` (released once its content has grown). */
export function growUndoDescription(container: Container): string {
  return `shrink ${container.path} back to ${container.sizeBytes} bytes`;
}

/** The dry-run view of growing a container to `sizeBytes`. */
export function describeGrowContainer(container: Container, sizeBytes: number): PlanAction {
  if (container.kind === 'volume')
    return { kind: 'run', argv: lvextendArgv(container.vg, container.lv, sizeBytes) };
  if (container.format === 'qcow2')
    return { kind: 'run', argv: resizeImageArgv(container.path, 'qcow2', sizeBytes) };
  return { kind: 'note', text: `extend ${container.path} to ${sizeBytes} bytes (sparse: no blocks written)` };
}

/** Grows the container and registers the shrink back (safe only until its content grows). */
export async function growContainer(container: Container, sizeBytes: number, ctx: StepScope): Promise<void> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const old = container.sizeBytes;
  if (container.kind === 'volume') {
    await extendVolume(container.vg, container.lv, sizeBytes, exec);
    ctx.undo.push(growUndoDescription(container), () =>
      reduceVolume(container.vg, container.lv, old, { sink: ctx.sink }),
    );
  } else if (container.format === 'qcow2') {
    await resizeImage(container.path, 'qcow2', sizeBytes, exec);
    ctx.undo.push(growUndoDescription(container), () =>
      resizeImage(container.path, 'qcow2', old, { sink: ctx.sink, shrink: true }),
    );
  } else {
    const file = await fs.stat(container.path);
    const intent = ctx.undo.expect(growUndoDescription(container), {
      kind: 'size',
      path: container.path,
      sizeBytes: old,
      ...identityOf(file),
    });
    await fs.truncate(container.path, sizeBytes);
    ctx.undo.push(growUndoDescription(container), () => fs.truncate(container.path, old), intent);
  }
}

/** The dry-run view of growing the filesystem `fsType` in `container`. */
export function describeGrowFs(container: Container, fsType: FsType | undefined): PlanAction[] {
  const raw = container.kind === 'file' && container.format === 'qcow2' ? '<raw view>' : container.path;
  if (!fsType) return [{ kind: 'note', text: `find the filesystem on ${raw} (blkid) and grow it` }];
  const mounted = fsType === 'xfs' || fsType === 'btrfs';
  return [
    ...(raw !== container.path
      ? [{ kind: 'note' as const, text: `serve ${container.path} raw (FUSE)` }]
      : []),
    ...(mounted
      ? [{ kind: 'note' as const, text: `mount ${raw} on <tree> (it grows only while mounted)` }]
      : []),
    ...growFsArgvs(fsType, raw, '<tree>').map((argv): PlanAction => ({ kind: 'run', argv })),
  ];
}

/** Grows the filesystem in `container` to fill it; returns its type. */
export async function growFilesystem(container: Container, ctx: StepScope): Promise<FsType> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const format = container.kind === 'file' ? container.format : 'raw';
  // On failure the undo stack unmounts and closes the view, before it shrinks the container back.
  const view = await openRawView(container.path, format, ctx);
  const found = (await probeBlock(view.rawPath, exec))?.type;
  const fsType = GROWABLE_FS.find((f) => f === found);
  if (!fsType) {
    throw runtimeError(
      'E_RESIZE_FS',
      `${container.path} holds ${found ?? 'no filesystem'}, which xenkit cannot grow`,
      'grow the filesystem by hand; the container was put back to its old size',
    );
  }
  if (fsType === 'xfs' || fsType === 'btrfs') {
    const tree = await mountTree(view.rawPath, ctx, { fsType });
    for (const argv of growFsArgvs(fsType, view.rawPath, tree.dir)) await runCommand(argv, exec);
    await unmountTree(tree, ctx);
  } else {
    const [check, grow] = growFsArgvs(fsType, view.rawPath, '');
    // e2fsck -p exits 1 when it corrected something: still fine to resize.
    const checked = await runCommand(check!, { ...exec, allowFailure: true });
    if (checked.exitCode > 1) await runCommand(check!, exec);
    await runCommand(grow!, exec);
  }
  await closeRawView(view, ctx);
  return fsType;
}

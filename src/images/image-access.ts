/**
 * Raw access to a guest image while a plan runs: a raw image is used as it is; a qcow2 image is
 * served as a raw file by qemu-storage-daemon's FUSE export (this host has no nbd module). Then
 * loop device and mount for the filesystem tree. Everything registers its undo; the normal flow
 * closes in reverse and drops the undo entries.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StepScope } from '../plan/plan.js';
import { identifyProcess } from '../plan/process-identity.js';
import { attachLoop, detachLoop } from '../tools/losetup.js';
import {
  GUEST_MOUNT_OPTIONS,
  makePrivateMountPoint,
  mountFs,
  unmountFs,
  type PrivateMountPoint,
} from '../tools/mount.js';
import { startFuseExport, stopFuseExport, type FuseExport } from '../tools/qemu-storage-daemon.js';

/** An image opened for raw access. */
export interface RawView {
  image: string;
  format: string;
  /** What to hand to blkid, tune2fs, mkswap, losetup. */
  rawPath: string;
  /** The FUSE export behind a non-raw image. */
  export: FuseExport | undefined;
  scratch: string | undefined;
}

function exportUndo(image: string): string {
  return `stop the raw export of ${image}`;
}

/** Opens `image` for raw reads and writes, or reads only (`format` as the cfg or qemu-img says). */
export async function openRawView(
  image: string,
  format: string,
  ctx: StepScope,
  options: { readOnly?: boolean; shareWithWriter?: boolean } = {},
): Promise<RawView> {
  if (format === 'raw') return { image, format, rawPath: image, export: undefined, scratch: undefined };
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'xenkit-export-'));
  const mountpoint = path.join(scratch, 'raw');
  const pidFile = path.join(scratch, 'qsd.pid');
  // Journaled before it starts: the kernel stops it when this process dies, but one killed in the
  // instant before it asked for that would outlive the run.
  const intent = ctx.undo.expect(exportUndo(image), {
    kind: 'daemon',
    pidFile,
    argv0: 'qemu-storage-daemon',
  });
  let exp: FuseExport;
  try {
    exp = await startFuseExport(
      {
        image,
        format,
        mountpoint,
        pidFile,
        writable: options.readOnly !== true,
        shareWithWriter: options.readOnly === true && options.shareWithWriter === true,
      },
      { sink: ctx.sink, signal: ctx.signal },
    );
  } catch (error) {
    await fs.rm(scratch, { recursive: true, force: true });
    intent.cancel();
    throw error;
  }
  // Its identity too: should its pidfile go (with the FUSE mount beside it), recovery still finds it.
  intent.made({ kind: 'daemon', pidFile, argv0: 'qemu-storage-daemon', process: identifyProcess(exp.pid) });
  ctx.undo.push(
    exportUndo(image),
    async () => {
      await stopFuseExport(exp, ctx.sink);
      await fs.rm(scratch, { recursive: true, force: true });
    },
    intent,
  );
  return { image, format, rawPath: mountpoint, export: exp, scratch };
}

/** Closes a raw view in the normal flow (the daemon flushes the image when it stops). */
export async function closeRawView(view: RawView, ctx: StepScope): Promise<void> {
  if (!view.export) return;
  await stopFuseExport(view.export, ctx.sink);
  if (view.scratch) await fs.rm(view.scratch, { recursive: true, force: true });
  ctx.undo.release(exportUndo(view.image));
}

/** A filesystem mounted from a raw view. */
export interface MountedTree {
  dir: string;
  loop: string;
  point: PrivateMountPoint;
}

/** Attaches `rawPath` to a loop device and mounts it on a fresh directory. */
export async function mountTree(
  rawPath: string,
  ctx: StepScope,
  options: { fsType?: string; readOnly?: boolean } = {},
): Promise<MountedTree> {
  const point = await makePrivateMountPoint(`xenkit-tree-${randomBytes(2).toString('hex')}-`);
  const dir = point.dir;
  ctx.undo.push(`remove mount point ${dir}`, () => point.remove().catch(() => undefined));
  const loop = await attachLoop(rawPath, ctx, { readOnly: options.readOnly });
  // xfs refuses a second filesystem with a UUID it has mounted; the clone's UUID changes later.
  // Read-only means the image too: no journal or log replay, which writes even under `ro`.
  const opts = [
    ...GUEST_MOUNT_OPTIONS,
    ...(options.readOnly ? ['ro', ...noReplayOptions(options.fsType)] : []),
    ...(options.fsType === 'xfs' ? ['nouuid'] : []),
  ];
  await mountFs(loop, dir, ctx, { fsType: options.fsType, options: opts });
  return { dir, loop, point };
}

/** The mount options that keep a filesystem's journal or log from being replayed. */
export function noReplayOptions(fsType: string | undefined): string[] {
  if (fsType?.startsWith('ext')) return fsType === 'ext2' ? [] : ['noload'];
  if (fsType === 'xfs') return ['norecovery'];
  if (fsType === 'btrfs') return ['rescue=nologreplay'];
  return [];
}

/** Unmounts, detaches and removes the mount point (normal flow). */
export async function unmountTree(tree: MountedTree, ctx: StepScope): Promise<void> {
  await unmountFs(tree.dir, ctx);
  await detachLoop(tree.loop, ctx);
  await tree.point.remove();
  ctx.undo.release(`remove mount point ${tree.dir}`);
}

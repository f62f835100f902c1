/**
 * Making a guest from a cache entry. For an ext4 file image ("image" mode) the entry's pristine
 * image is copied into the new disk image, grown with resize2fs, given the guest's UUID and
 * label, and loop-mounted on the staging directory: the customize step then edits the real
 * filesystem, and the storage step only unmounts it (no `mke2fs -d`). Every other layout ("tree"
 * mode) gets the tree copied from the read-only mounted image into the staging directory.
 */
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { StepContext } from '../plan/plan.js';
import { stateKey } from '../plan/step-state.js';
import { isNoSpaceError, noSpaceError } from '../storage/free-space.js';
import { createImageFile, discardImageFile, type ImageFile } from '../storage/image-file.js';
import { probeBlock } from '../tools/blkid.js';
import { copyTree } from '../tools/cp.js';
import { attachLoop, detachLoop } from '../tools/losetup.js';
import { GUEST_MOUNT_OPTIONS, makePrivateMountPoint, mountFs, unmountFs } from '../tools/mount.js';
import { resizeExtFs } from '../tools/resize2fs.js';
import { setExtIdentity } from '../tools/tune2fs.js';
import { copyImageChecked, dataCrcOf } from './rootfs-cache-image.js';
import type { RootfsEntry } from './rootfs-cache-store.js';

/** The guest disk that image mode makes from the entry. */
export interface CachedDiskSpec {
  /** Final path of the disk image. */
  path: string;
  /** Bytes. */
  size: number;
  allocation: 'sparse' | 'full';
  /** `--force`: build beside an existing image and rename over it at commit. */
  overwrite: boolean;
  uuid: string;
  label: string;
}

/** What image mode hands to the storage step through the step state. */
interface MountedDisk {
  image: ImageFile;
  mountPoint: string;
  uuid: string;
}

const DISK_STATE = stateKey<MountedDisk>('rootfs-cache.disk');

/** Outcome of one attempt: `corrupt` when the data checksum did not match the manifest. */
export type UseOutcome = 'done' | 'corrupt';

/**
 * Image mode: makes the guest disk from the entry and mounts it on `staging`. Returns `corrupt`
 * (having removed the half-made image) when the copy's checksum differs from the manifest.
 */
export async function useEntryAsDisk(
  entry: RootfsEntry,
  disk: CachedDiskSpec,
  staging: string,
  ctx: StepContext,
): Promise<UseOutcome> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const image = await createImageFile(
    { path: disk.path, size: disk.size, allocation: disk.allocation, overwrite: disk.overwrite },
    ctx,
  );
  ctx.reporter.progress('install.tree', `copying the cached root filesystem (${entry.key.slice(0, 12)})`);
  const copied = await copyImageChecked(entry.imagePath, image.workPath, ctx.signal).catch(
    async (error: unknown) => {
      // A write's ENOSPC names no file: name the image that did not fit.
      throw isNoSpaceError(error) ? await noSpaceError(disk.path, error) : error;
    },
  );
  if (copied.bytes !== entry.manifest.image.bytes || copied.dataCrc32 !== entry.manifest.image.dataCrc32) {
    await discardImageFile(image.workPath, ctx);
    return 'corrupt';
  }
  if (disk.size > copied.bytes) await resizeExtFs(image.workPath, exec);
  await setExtIdentity(image.workPath, { uuid: disk.uuid, label: disk.label }, exec);
  // `-o loop` lets mount attach an auto-clearing loop device (freed by the unmount): two fewer
  // losetup runs on the path this cache exists to make fast.
  // nosuid but not nodev: hooks `chroot` into it and use its /dev/null. Other users cannot reach
  // it anyway: staging lies in a 0700 directory.
  await mountFs(image.workPath, staging, ctx, { fsType: 'ext4', options: ['loop', 'nosuid'] });
  const mounted: MountedDisk = { image, mountPoint: staging, uuid: disk.uuid };
  DISK_STATE.set(ctx, mounted);
  return 'done';
}

/**
 * The storage step's half of image mode: unmounts the customized filesystem (which frees its
 * loop device), checks its identity with blkid and hands the image to `remember` (for the commit).
 * Returns false when the disk was not made from the cache (the step then runs mkfs as usual).
 */
export async function finishCachedDisk(
  ctx: StepContext,
  remember: (image: ImageFile) => void,
): Promise<boolean> {
  const mounted = DISK_STATE.get(ctx);
  if (!mounted) return false;
  await unmountFs(mounted.mountPoint, ctx);
  DISK_STATE.delete(ctx);
  const found = await probeBlock(mounted.image.workPath, { sink: ctx.sink });
  if (found?.type !== 'ext4' || found.uuid?.toLowerCase() !== mounted.uuid.toLowerCase()) {
    throw runtimeError(
      'E_FS_VERIFY',
      `${mounted.image.workPath}: expected ext4 with UUID ${mounted.uuid}, blkid found ${found?.type ?? 'none'} ${found?.uuid ?? ''}`.trim(),
      'report this as a bug; retry with --no-cache',
    );
  }
  remember(mounted.image);
  return true;
}

/** Whether the guest disk was made from the cache (image mode ran). */
export function hasCachedDisk(ctx: Pick<StepContext, 'state'>): boolean {
  return DISK_STATE.has(ctx);
}

/**
 * Tree mode: checks the entry's data checksum, then copies the tree out of the read-only mounted
 * image into `target` (an empty directory) for the usual customize-then-mkfs flow.
 */
export async function useEntryAsTree(
  entry: RootfsEntry,
  target: string,
  ctx: StepContext,
): Promise<UseOutcome> {
  ctx.reporter.progress('install.tree', `checking the cached root filesystem (${entry.key.slice(0, 12)})`);
  const crc = await dataCrcOf(entry.imagePath, ctx.signal);
  if (crc.bytes !== entry.manifest.image.bytes || crc.dataCrc32 !== entry.manifest.image.dataCrc32)
    return 'corrupt';
  const loop = await attachLoop(entry.imagePath, ctx, { readOnly: true });
  const point = await makePrivateMountPoint('xenkit-rootfs-');
  const dir = point.dir;
  const dirUndo = `remove mount point ${dir}`;
  ctx.undo.push(dirUndo, () => point.remove());
  // noload: a read-only mount must not replay the journal (there is none to replay: never mounted).
  await mountFs(loop, dir, ctx, { fsType: 'ext4', options: ['ro', 'noload', ...GUEST_MOUNT_OPTIONS] });
  ctx.reporter.progress('install.tree', 'copying the cached root tree');
  await copyTree(dir, target, { sink: ctx.sink, signal: ctx.signal });
  await unmountFs(dir, ctx);
  await point.remove();
  ctx.undo.release(dirUndo);
  await detachLoop(loop, ctx);
  // The image's lost+found is not part of the tree; the guest's mkfs makes its own.
  await rmdir(path.join(target, 'lost+found')).catch(() => undefined);
  return 'done';
}

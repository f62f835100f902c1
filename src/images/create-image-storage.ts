/**
 * The storage steps of `xen-create-image` for file and device guests (LVM: storage/lvm-steps.ts):
 * where the images go, the room check for fully allocated files, and the disk and swap steps.
 * Images are made under temporary names; the plan's commit step renames them (rememberedImages).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { finishCachedDisk } from '../install/rootfs-cache.js';
import type { GuestIds } from '../model/guest-ids.js';
import type { GuestSpec, VolumeSpec } from '../model/guest-spec.js';
import {
  listGuestSwaps,
  listGuestVolumes,
  swapUuidOf,
  volumeImageName,
  volumeLvName,
  type GuestSwap,
} from '../model/guest-volumes.js';
import type { PlanAction, PlanStep, StepContext } from '../plan/plan.js';
import { stateList } from '../plan/step-state.js';
import { checkFreeSpace } from '../storage/free-space.js';
import { convertToQcow2, describeConvertToQcow2 } from '../storage/qcow2.js';
import {
  createImageFile,
  describeCreateImageFile,
  discardImageFile,
  type ImageFile,
} from '../storage/image-file.js';
import {
  describeMakeFilesystem,
  makeFilesystem,
  rootFilesystemOptions,
  volumeFilesystemOptions,
} from '../storage/filesystem.js';
import { describeMakeSwap, makeSwap } from '../storage/swap.js';
import {
  describeFinishWholeDisk,
  EXTLINUX_BLOCK_SIZE,
  finishWholeDisk,
  partitionBytes,
} from '../storage/whole-disk.js';
import { prepareDevice } from '../storage/block-device.js';
import { humanSize } from '../storage/free-space.js';
import { lvmImagePaths } from '../storage/lvm-steps.js';
import { lvmVolumePath } from '../storage/lvm.js';

// The image files made under temporary names, in the order they were made.
const IMAGES = stateList<ImageFile>('storage.images');

/** The image files this run made under temporary names, for the commit step to rename. */
export function rememberedImages(ctx: Pick<StepContext, 'state'>): readonly ImageFile[] {
  return IMAGES.items(ctx);
}

/** Where the disk and swap images of a file-backed guest go (undefined for devices). */
export function imagePaths(spec: GuestSpec): { disk: string | undefined; swap: string | undefined } {
  if (spec.storage.kind === 'file') {
    const { guestDir } = spec.storage;
    return {
      disk: path.join(guestDir, volumeImageName(spec.disk.name ?? 'disk')),
      swap: spec.swap ? path.join(guestDir, volumeImageName(spec.swap.name ?? 'swap')) : undefined,
    };
  }
  if (spec.storage.kind === 'device') return { disk: spec.storage.imageDev, swap: spec.storage.swapDev };
  return lvmImagePaths(spec);
}

/** The image files or logical volumes of a `--partitions` guest's volumes other than "/" and swap. */
export function volumePaths(spec: GuestSpec): { volume: VolumeSpec; path: string }[] {
  const { storage } = spec;
  return (spec.volumes ?? []).map((volume) => ({
    volume,
    path:
      storage.kind === 'file'
        ? path.join(storage.guestDir, volumeImageName(volume.name))
        : storage.kind === 'lvm'
          ? lvmVolumePath(storage.vg, volumeLvName(spec.hostname, volume.name))
          : '',
  }));
}

/** Every swap image or device of a file or device guest with its path (a layout's several swaps as files). */
export function swapPaths(spec: GuestSpec): { swap: GuestSwap; path: string }[] {
  const { storage } = spec;
  const swaps = listGuestSwaps(spec);
  if (storage.kind === 'device')
    return storage.swapDev && swaps[0] ? [{ swap: swaps[0], path: storage.swapDev }] : [];
  return swaps.map((swap) => ({
    swap,
    path:
      storage.kind === 'file'
        ? path.join(storage.guestDir, volumeImageName(swap.name))
        : lvmVolumePath(storage.vg, volumeLvName(spec.hostname, swap.name)),
  }));
}

export function storageSteps(
  spec: GuestSpec,
  ids: GuestIds,
  staging: string,
  overwrite: boolean,
): PlanStep[] {
  const steps: PlanStep[] = [];
  const images = imagePaths(spec);
  const isFile = spec.storage.kind === 'file';
  const qcow2 = spec.storage.kind === 'file' && spec.storage.format === 'qcow2';
  const allocation = spec.storage.kind === 'file' ? spec.storage.allocation : 'full';
  const disk = images.disk as string;
  const remember = (ctx: StepContext, image: ImageFile): void => {
    IMAGES.add(ctx, image);
  };
  // A file image is made raw (for qcow2: as a raw work file, converted once written); a device
  // is checked. `format` writes the filesystem or swap signature into the raw target.
  const describeImage = (dest: string, size: number, format: PlanAction[]): PlanAction[] => [
    ...(isFile
      ? describeCreateImageFile({ path: dest, size, allocation: qcow2 ? 'sparse' : allocation, overwrite })
      : []),
    ...format,
    ...(qcow2 ? describeConvertToQcow2({ source: `${dest}.raw`, target: dest, allocation, overwrite }) : []),
  ];
  const buildImage = async (
    dest: string,
    size: number,
    ctx: StepContext,
    format: (target: string) => Promise<void>,
  ): Promise<void> => {
    let target = dest;
    if (isFile) {
      const image = await createImageFile(
        {
          path: qcow2 ? rawWorkName(dest) : dest,
          size,
          allocation: qcow2 ? 'sparse' : allocation,
          overwrite,
        },
        ctx,
      );
      target = image.workPath;
      if (!qcow2) remember(ctx, image);
    } else {
      await prepareDevice(dest);
    }
    await format(target);
    if (qcow2) {
      await convertToQcow2({ source: target, target: dest, allocation, overwrite }, ctx);
      await discardImageFile(target, ctx);
    }
  };
  // HVM: the root filesystem is partition 1 of a whole disk of --size, made 1 MiB smaller and
  // moved up behind the partition table once extlinux is in it (storage/whole-disk.ts).
  const wholeDisk = spec.boot.type === 'hvm';
  const fsOptions = {
    ...rootFilesystemOptions(spec, ids, staging),
    ...(wholeDisk ? { sizeBytes: partitionBytes(spec.disk.size), blockSize: EXTLINUX_BLOCK_SIZE } : {}),
  };
  const fsSize = fsOptions.sizeBytes;
  const diskWork = qcow2 ? `${disk}.raw` : disk;
  steps.push({
    id: 'storage.disk',
    title: wholeDisk
      ? `Make the whole disk ${disk}: partition table, ${spec.disk.fs} in partition 1, extlinux`
      : `Make the ${spec.disk.fs} disk ${disk}`,
    actions: describeImage(disk, fsSize, [
      ...describeMakeFilesystem({ ...fsOptions, target: disk }),
      ...(wholeDisk ? describeFinishWholeDisk(diskWork) : []),
    ]),
    run: async (ctx) => {
      if (await finishCachedDisk(ctx, (image) => remember(ctx, image))) return;
      await buildImage(disk, fsSize, ctx, async (target) => {
        ctx.reporter.progress('storage.disk', 'writing the root tree into the filesystem');
        await makeFilesystem({ ...fsOptions, target }, ctx);
        if (wholeDisk) {
          ctx.reporter.progress('storage.disk', 'installing extlinux and the partition table');
          await finishWholeDisk(target, ctx);
        }
      });
    },
  });
  swapPaths(spec).forEach(({ swap, path: dest }, index) => {
    const uuid = swapUuidOf(spec, ids, swap);
    steps.push({
      id: index === 0 ? 'storage.swap' : `storage.swap.${swap.name}`,
      title: `Make the swap ${dest}`,
      // A qcow2 guest's swap is qcow2 too, as its cfg says: made raw, then converted like the disk.
      actions: describeImage(dest, swap.size, describeMakeSwap({ target: dest, uuid })),
      run: (ctx) =>
        buildImage(dest, swap.size, ctx, async (target) => {
          await makeSwap({ target, uuid }, ctx);
        }),
    });
  });
  for (const { volume, path: dest } of volumePaths(spec)) {
    const options = volumeFilesystemOptions(volume, ids, staging);
    steps.push({
      id: `storage.volume.${volume.name}`,
      title: `Make the ${volume.fs} volume ${dest} for ${volume.mountpoint}`,
      actions: describeImage(dest, volume.size, describeMakeFilesystem({ ...options, target: dest })),
      run: (ctx) =>
        buildImage(dest, volume.size, ctx, async (target) => {
          await makeFilesystem({ ...options, target }, ctx);
        }),
    });
  }
  return steps;
}

/**
 * Fully allocated image files need their whole size at once: refuse before anything is
 * installed when the filesystem cannot hold them (a sparse image can only be checked by writing).
 */
export function fileSpaceCheckSteps(spec: GuestSpec): PlanStep[] {
  const storage = spec.storage;
  if (storage.kind !== 'file' || storage.allocation !== 'full') return [];
  const bytes = listGuestVolumes(spec).reduce((sum, v) => sum + v.size, 0);
  return [
    {
      id: 'storage.check',
      title: `Check that ${storage.dir} has room for the full images`,
      actions: [
        { kind: 'note', text: `${humanSize(bytes)} must be free on the filesystem of ${storage.dir}` },
      ],
      run: () => checkFreeSpace(storage.dir, bytes),
    },
  ];
}

function rawWorkName(disk: string): string {
  return path.join(
    path.dirname(disk),
    `.${path.basename(disk)}.xenkit-raw-${randomBytes(4).toString('hex')}`,
  );
}

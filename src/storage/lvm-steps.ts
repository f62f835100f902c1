/**
 * The plan steps that put an LVM-backed guest on disk: check the VG before the bootstrap, create
 * and wipe `HOSTNAME-disk` (and `HOSTNAME-swap`, or a layout's volumes), each with its lvremove undo, then mkfs the
 * staging tree onto the volume and write the swap signature. A failure later in the plan removes
 * the volumes; with --force the old volumes are only swapped out in the last step. An HVM guest's
 * disk volume is a whole disk: partition table, extlinux, the filesystem in partition 1.
 */
import type { GuestIds } from '../model/guest-ids.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanStep } from '../plan/plan.js';
import { stateList } from '../plan/step-state.js';
import { lvcreateArgv, lvsArgv, vgsArgv, zeroDeviceArgv } from '../tools/lvm.js';
import { listGuestSwaps, listGuestVolumes, swapUuidOf, volumeLvName } from '../model/guest-volumes.js';
import {
  describeMakeFilesystem,
  makeFilesystem,
  rootFilesystemOptions,
  volumeFilesystemOptions,
} from './filesystem.js';
import { checkVolumeGroup, createGuestVolume, lvmVolumePath, type GuestVolume } from './lvm.js';
import { commitGuestVolumes } from './lvm-replace.js';
import { describeMakeSwap, makeSwap } from './swap.js';
import { describeWholeDiskDevice, EXTLINUX_BLOCK_SIZE, makeWholeDiskDevice } from './whole-disk.js';

/** The disk and swap volume paths of an LVM guest (swap undefined without swap). */
export function lvmImagePaths(spec: GuestSpec): { disk: string | undefined; swap: string | undefined } {
  if (spec.storage.kind !== 'lvm') return { disk: undefined, swap: undefined };
  const { vg } = spec.storage;
  return {
    disk: lvmVolumePath(vg, volumeLvName(spec.hostname, spec.disk.name ?? 'disk')),
    swap: spec.swap ? lvmVolumePath(vg, volumeLvName(spec.hostname, spec.swap.name ?? 'swap')) : undefined,
  };
}

/** The volumes the guest needs, by name and size (disk first, then a layout's others, swap last). */
function guestVolumes(spec: GuestSpec): { name: string; sizeBytes: number }[] {
  const all = listGuestVolumes(spec);
  return [...all.filter((v) => v.role === 'root'), ...all.filter((v) => v.role !== 'root').reverse()].map(
    (v) => ({ name: volumeLvName(spec.hostname, v.name), sizeBytes: v.size }),
  );
}

/**
 * The step that runs before the bootstrap: the VG exists, has room, and the guest's volumes are
 * new (or replaceable with --force), so a guest that cannot fit fails in seconds, not minutes.
 */
export function lvmCheckSteps(spec: GuestSpec): PlanStep[] {
  if (spec.storage.kind !== 'lvm') return [];
  const { vg, thinPool } = spec.storage;
  const sizes = guestVolumes(spec)
    .map((v) => v.name)
    .join(' and ');
  return [
    {
      id: 'storage.check',
      title: `Check that volume group ${vg} can hold ${sizes}`,
      actions: [
        { kind: 'run', argv: vgsArgv(vg) },
        { kind: 'run', argv: lvsArgv(vg) },
      ],
      run: (ctx) => checkVolumeGroup(vg, guestVolumes(spec), { thinPool, replace: spec.force }, ctx),
    },
  ];
}

/** The last step: with --force, the new volumes take the old ones' names (the old go after the commit). */
export function lvmCommitSteps(spec: GuestSpec): PlanStep[] {
  if (spec.storage.kind !== 'lvm' || !spec.force) return [];
  return [
    {
      id: 'storage.commit-volumes',
      title: 'Swap the new volumes in for the old ones',
      actions: [
        {
          kind: 'note',
          text: 'volumes made under temporary names replace the old ones (lvrename); the old ones are removed last',
        },
      ],
      run: (ctx) => commitGuestVolumes(VOLUMES.items(ctx), ctx),
    },
  ];
}

// The volumes this run made, in the order they were made, for the commit step.
const VOLUMES = stateList<GuestVolume>('storage.lvmVolumes');

/** Steps that create, wipe and fill the guest's logical volumes. */
export function lvmStorageSteps(spec: GuestSpec, ids: GuestIds, staging: string): PlanStep[] {
  if (spec.storage.kind !== 'lvm') return [];
  const { vg, thinPool } = spec.storage;
  const names = { disk: volumeLvName(spec.hostname, spec.disk.name ?? 'disk') };
  const { disk } = lvmImagePaths(spec);
  const wipeAction = (path: string) =>
    thinPool
      ? { kind: 'note' as const, text: `${path} is thin: unwritten blocks read as zeros, no wipe needed` }
      : { kind: 'run' as const, argv: zeroDeviceArgv(path) };
  // A new logical volume always gets a new filesystem (--dontformat is for existing devices).
  const fsOptions = { ...rootFilesystemOptions(spec, ids, staging), format: true };
  // HVM: the volume is a whole disk (MBR, extlinux), the filesystem partition 1 at 1 MiB.
  const wholeDisk = spec.boot.type === 'hvm';
  const rootFsOptions = wholeDisk ? { ...fsOptions, blockSize: EXTLINUX_BLOCK_SIZE } : fsOptions;
  const kind = thinPool ? `thin, pool ${vg}/${thinPool}` : 'LVM';
  const steps: PlanStep[] = [
    {
      id: 'storage.disk',
      title: wholeDisk
        ? `Make the whole disk ${disk ?? ''} (${kind}): partition table, ${spec.disk.fs} in partition 1, extlinux`
        : `Make the ${spec.disk.fs} disk ${disk ?? ''} (${kind})`,
      actions: [
        { kind: 'run', argv: lvcreateArgv({ vg, name: names.disk, sizeBytes: spec.disk.size, thinPool }) },
        wipeAction(disk ?? ''),
        ...(wholeDisk
          ? describeWholeDiskDevice(disk ?? '', spec.disk.size, (partition) =>
              describeMakeFilesystem({ ...rootFsOptions, target: partition }),
            )
          : describeMakeFilesystem({ ...fsOptions, target: disk ?? '' })),
      ],
      run: async (ctx) => {
        const volume = await createGuestVolume(
          { vg, name: names.disk, sizeBytes: spec.disk.size, thinPool, replace: spec.force },
          ctx,
        );
        VOLUMES.add(ctx, volume);
        ctx.reporter.progress('storage.disk', 'writing the root tree into the filesystem');
        if (!wholeDisk) {
          await makeFilesystem({ ...fsOptions, target: volume.path, sizeBytes: volume.sizeBytes }, ctx);
          return;
        }
        await makeWholeDiskDevice(volume.path, volume.sizeBytes, ctx, (partition, sizeBytes) =>
          makeFilesystem({ ...rootFsOptions, target: partition, sizeBytes }, ctx),
        );
      },
    },
  ];
  listGuestSwaps(spec).forEach((swap, index) => {
    const name = volumeLvName(spec.hostname, swap.name);
    const target = lvmVolumePath(vg, name);
    const uuid = swapUuidOf(spec, ids, swap);
    steps.push({
      id: index === 0 ? 'storage.swap' : `storage.swap.${swap.name}`,
      title: `Make the swap ${target}`,
      actions: [
        { kind: 'run', argv: lvcreateArgv({ vg, name, sizeBytes: swap.size, thinPool }) },
        wipeAction(target),
        ...describeMakeSwap({ target, uuid }),
      ],
      run: async (ctx) => {
        const volume = await createGuestVolume(
          { vg, name, sizeBytes: swap.size, thinPool, replace: spec.force },
          ctx,
        );
        VOLUMES.add(ctx, volume);
        await makeSwap({ target: volume.path, uuid }, ctx);
      },
    });
  });
  for (const volume of spec.volumes ?? []) {
    const name = volumeLvName(spec.hostname, volume.name);
    const target = lvmVolumePath(vg, name);
    const options = volumeFilesystemOptions(volume, ids, staging);
    steps.push({
      id: `storage.volume.${volume.name}`,
      title: `Make the ${volume.fs} volume ${target} for ${volume.mountpoint}`,
      actions: [
        { kind: 'run', argv: lvcreateArgv({ vg, name, sizeBytes: volume.size, thinPool }) },
        wipeAction(target),
        ...describeMakeFilesystem({ ...options, target }),
      ],
      run: async (ctx) => {
        const made = await createGuestVolume(
          { vg, name, sizeBytes: volume.size, thinPool, replace: spec.force },
          ctx,
        );
        VOLUMES.add(ctx, made);
        await makeFilesystem({ ...options, target: made.path, sizeBytes: made.sizeBytes }, ctx);
      },
    });
  }
  return steps;
}

/**
 * `xenkit backup restore --lvm VG`: a snapshot's disks restored onto new logical volumes named as
 * create-image names them (NAME-disk, NAME-swap, NAME-SECTION). Each is made by this run (an
 * existing one is refused, never written, --force or not), zeroed in the kernel (blkdiscard
 * --zeroout), then only the data blocks are written; a failure or Ctrl-C removes the volumes it
 * made. The checks and the volume steps live in storage/lvm.ts; this module adds what restore
 * asks of them (names from the manifest, restore's errors and hints).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Manifest } from '../backup/manifest.js';
import { usageError } from '../errors.js';
import { volumeLvName } from '../model/guest-volumes.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { checkVolumeGroup, createGuestVolume, lvmVolumePath } from '../storage/lvm.js';
import { lvcreateArgv, zeroDeviceArgv } from '../tools/lvm.js';
import type { RestoreTarget } from './backup-restore-targets.js';

/**
 * The section a disk of `guest` stands for (`/dev/VG/GUEST-swap2`, `DIR/domains/GUEST/swap2.img`:
 * `swap2`): its volume on LVM is NEW-SECTION, as create-image names a layout's volumes.
 */
export function sectionForDisk(target: string, guest: string): string {
  const base = path.basename(target);
  if (target.startsWith('/dev/')) return base.startsWith(`${guest}-`) ? base.slice(guest.length + 1) : base;
  return base.replace(/\.(img|raw|qcow2)$/, '');
}

/** The volumes of `--lvm VG`: checks the VG, that none exists yet, and that they fit. */
export async function lvmRestoreTargets(
  vg: string,
  manifest: Manifest,
  name: string,
): Promise<RestoreTarget[]> {
  const targets = manifest.disks.map((disk): RestoreTarget => {
    const lv = volumeLvName(name, sectionForDisk(disk.target, manifest.guest));
    const host = lvmVolumePath(vg, lv);
    return { disk, host, temp: host, cfgTarget: host, format: 'raw', volume: { vg, name: lv } };
  });
  const names = targets.map((t) => t.volume!.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) {
    throw usageError(
      'E_USAGE',
      `snapshot ${manifest.id}: two disks would both become the volume ${vg}/${twice}`,
      'restore to image files with --dir=DIR instead',
    );
  }
  // Restore makes its volumes; it never writes over one it did not make, --force or not.
  await checkVolumeGroup(
    vg,
    targets.map((t) => ({ name: t.volume!.name, sizeBytes: t.disk.size })),
    {
      replace: false,
      existsError: (existing) =>
        usageError(
          'E_LVM_EXISTS',
          `guest "${name}": logical volume${existing.length > 1 ? 's' : ''} ${existing.join(', ')} ${existing.length > 1 ? 'exist' : 'exists'} already`,
          `restore under another name with --as NEW, or remove the old guest first (xenkit delete-image --lvm=${vg} ${name})`,
        ),
      noSpaceHint: `restore to image files with --dir=DIR instead, or extend the volume group (vgextend ${vg} DEVICE)`,
    },
    { sink: () => undefined, signal: new AbortController().signal },
  );
  return targets;
}

/** What restoring `t` onto its new volume runs, for the plan. */
export function describeVolumeRestore(t: RestoreTarget, volume: { vg: string; name: string }): PlanAction[] {
  return [
    {
      kind: 'run',
      argv: lvcreateArgv({ ...volume, sizeBytes: Math.ceil(t.disk.size / 512) * 512 }),
    },
    { kind: 'run', argv: zeroDeviceArgv(t.host) },
    {
      kind: 'note',
      text: `write the data blocks of ${t.disk.target} to ${t.host} (holes stay zero)`,
    },
  ];
}

/**
 * Makes the volume (its removal on the undo stack and in the journal), zeroed by createGuestVolume,
 * and writes only the data blocks into it with `write`: the holes read as the zeros they were.
 */
export async function restoreToVolume(
  t: RestoreTarget,
  volume: { vg: string; name: string },
  ctx: StepContext,
  write: (target: fs.FileHandle) => Promise<{ writtenBytes: number }>,
): Promise<{ path: string; size: number; writtenBytes: number }> {
  const made = await createGuestVolume({ ...volume, sizeBytes: t.disk.size, replace: false }, ctx);
  ctx.reporter.info(`writing ${made.path}`);
  const handle = await fs.open(made.path, 'r+');
  try {
    const { writtenBytes } = await write(handle);
    return { path: made.path, size: t.disk.size, writtenBytes };
  } finally {
    await handle.close();
  }
}

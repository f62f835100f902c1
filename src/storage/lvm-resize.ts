/**
 * Growing an LVM guest's disk: the volume with lvextend, then the filesystem on it. ext2/3/4 grow
 * offline (after a forced check, which resize2fs demands of a filesystem that was ever mounted);
 * xfs and btrfs can only grow while mounted, so they are mounted on a temporary directory.
 */
import { mkdtemp, rmdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import type { FsType } from '../model/guest-spec.js';
import { probeBlock } from '../tools/blkid.js';
import { runCommand } from '../tools/exec.js';
import { extendVolume, listVolumes } from '../tools/lvm.js';
import { mountFs, unmountFs } from '../tools/mount.js';
import type { StorageContext } from './context.js';
import { humanSize } from './free-space.js';
import { assertNotOpen, lvmVolumeNames, lvmVolumePath } from './lvm.js';

/** What grew. */
export interface GrowResult {
  device: string;
  fs: string;
  oldSizeBytes: number;
  newSizeBytes: number;
}

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

/** Grows `/dev/VG/HOSTNAME-disk` to `sizeBytes` and its filesystem to fill it (never shrinks). */
export async function growGuestDisk(
  vg: string,
  hostname: string,
  sizeBytes: number,
  ctx: StorageContext,
): Promise<GrowResult> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const name = lvmVolumeNames(hostname).disk;
  const lv = (await listVolumes(vg, exec)).find((v) => v.name === name);
  if (!lv) {
    throw usageError(
      'E_LVM_NO_VOLUME',
      `guest "${hostname}": there is no volume ${vg}/${name}`,
      'list the volumes with: lvs ' + vg,
    );
  }
  assertNotOpen(lv);
  if (sizeBytes <= lv.sizeBytes) {
    throw usageError(
      'E_RESIZE_SHRINK',
      `guest "${hostname}": new size ${humanSize(sizeBytes)} is not larger than ${humanSize(lv.sizeBytes)}`,
      'volumes only grow; give a larger size',
    );
  }
  const device = lvmVolumePath(vg, name);
  const found = await probeBlock(device, exec);
  const fs = found?.type;
  if (fs !== 'ext2' && fs !== 'ext3' && fs !== 'ext4' && fs !== 'xfs' && fs !== 'btrfs') {
    throw runtimeError(
      'E_RESIZE_FS',
      `${device} holds ${fs ?? 'no filesystem'}, which xenkit cannot grow`,
      'grow it by hand after lvextend',
    );
  }
  await extendVolume(vg, name, Math.ceil(sizeBytes / 512) * 512, exec);
  if (fs === 'xfs' || fs === 'btrfs') {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'xenkit-grow-'));
    try {
      await mountFs(device, dir, ctx, { fsType: fs });
      try {
        for (const argv of growFsArgvs(fs, device, dir)) await runCommand(argv, exec);
      } finally {
        await unmountFs(dir, ctx);
      }
    } finally {
      await rmdir(dir).catch(() => undefined);
    }
  } else {
    const [check, grow] = growFsArgvs(fs, device, '');
    // e2fsck -p exits 1 when it corrected something: still fine to resize.
    const checked = await runCommand(check!, { ...exec, allowFailure: true });
    if (checked.exitCode > 1) await runCommand(check!, exec);
    await runCommand(grow!, exec);
  }
  const after = (await listVolumes(vg, exec)).find((v) => v.name === name);
  return { device, fs, oldSizeBytes: lv.sizeBytes, newSizeBytes: after?.sizeBytes ?? sizeBytes };
}

/**
 * What a backup needs to know of a guest (layer 5: the repository below knows nothing of guests):
 * the guest read from its cfg, with image files it can read: raw, or qcow2 (read through a raw
 * export of what the guest sees, backing chain included), and block devices (LVM volumes), read
 * as raw.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { usageError } from '../errors.js';
import { assertGuestName } from '../model/guest-name.js';
import type { Paths } from '../paths.js';
import { isBlockDevice } from '../storage/block-device.js';
import { cfgPathOf, readGuest, type GuestFiles } from './guest-files.js';

/** The image formats a backup reads. */
const BACKUP_FORMATS: readonly string[] = ['raw', 'qcow2'];

/** The default repository: `/var/lib/xenkit/backups` under the root. */
export function defaultRepoDir(paths: Paths): string {
  return path.join(paths.libDir, 'backups');
}

/** Reads guest `name` for a backup; bad input (no such guest, a disk it cannot back up) is E_* usage. */
export function readGuestForBackup(paths: Paths, name: string): GuestFiles {
  assertGuestName(name, 'command line');
  if (!existsSync(cfgPathOf(paths, name))) {
    throw usageError(
      'E_NO_GUEST',
      `guest "${name}": no domain config ${cfgPathOf(paths, name)}`,
      'xenkit list-images shows the guests there are',
    );
  }
  const read = readGuest(paths, name);
  // Devices are the host's whatever the root (as LVM's own commands see them): /dev/VG/LV as is.
  const guest: GuestFiles = {
    ...read,
    disks: read.disks.map((disk) =>
      disk.config.target.startsWith('/dev/') && !disk.exists && isBlockDevice(disk.config.target)
        ? { ...disk, path: disk.config.target, exists: true }
        : disk,
    ),
  };
  for (const disk of guest.disks) {
    if (!disk.exists || !(disk.isFile || isBlockDevice(disk.path))) {
      throw usageError(
        'E_BACKUP_DISK',
        `guest "${name}": ${disk.path} ${disk.exists ? 'is neither an image file nor a block device' : 'is missing'}`,
        'backup reads image files, LVM volumes and other block devices',
      );
    }
    if (!BACKUP_FORMATS.includes(disk.config.format)) {
      throw usageError(
        'E_BACKUP_FORMAT',
        `guest "${name}": ${disk.path} is ${disk.config.format}; backup reads raw and qcow2 images`,
        `convert it first (qemu-img convert -O qcow2), or copy it with xenkit clone`,
      );
    }
  }
  if (guest.disks.length === 0) {
    throw usageError('E_BACKUP_DISK', `guest "${name}": its cfg names no disk`, 'nothing to back up');
  }
  return guest;
}

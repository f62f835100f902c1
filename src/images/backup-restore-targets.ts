/**
 * Where each disk of a snapshot is restored to as an image file: its own path (the same guest),
 * beside it in DIR/domains/NEW (`--as NEW`), or in DIR/domains/NAME (`--dir DIR`). A disk that was
 * a logical volume or other device comes back as an image file, never written over a device;
 * restoring onto new volumes (`--lvm VG`) is backup-restore-lvm.ts.
 */
import path from 'node:path';
import type { Manifest } from '../backup/manifest.js';
import { usageError } from '../errors.js';
import { volumeImageName } from '../model/guest-volumes.js';
import { underRoot, type Paths } from '../paths.js';
import { temporaryName } from '../storage/image-file.js';

/** One disk of the snapshot and where it goes. */
export interface RestoreTarget {
  disk: Manifest['disks'][number];
  /** The final image file or volume. */
  host: string;
  /** Where the data is written: a temporary file beside `host`, or the new volume itself. */
  temp: string;
  cfgTarget: string;
  /** The format written: the snapshot's, or raw on a volume. */
  format: string;
  /** `--lvm`: the volume to make. */
  volume?: { vg: string; name: string };
}

/**
 * The image file a guest's volume is restored to: `/dev/VG/GUEST-disk` -> `disk.img` (the file
 * names xen-create-image gives a guest's images), any other device `NAME.img`.
 */
export function imageNameForVolume(device: string, guest: string): string {
  const base = path.basename(device);
  return volumeImageName(base.startsWith(`${guest}-`) ? base.slice(guest.length + 1) : base);
}

/** The cfg's path for `host` (a path under the root): the same path without the root. */
function cfgPathFor(paths: Paths, host: string): string {
  return paths.root === '/' ? host : path.join('/', path.relative(paths.root, host));
}

/** The image files the disks of `manifest` are restored to as guest `name`; usage errors when no place is given. */
export function fileRestoreTargets(
  paths: Paths,
  manifest: Manifest,
  name: string,
  options: { dir: string | undefined; isNewIdentity: boolean },
): RestoreTarget[] {
  return manifest.disks.map((disk) => {
    const original = underRoot(paths, disk.target);
    // A logical volume (or other device) comes back as an image file: never written over a device.
    const isDevice = disk.target.startsWith('/dev/');
    const file = isDevice ? imageNameForVolume(disk.target, manifest.guest) : path.basename(disk.target);
    let host: string;
    if (options.dir) host = path.join(underRoot(paths, options.dir), 'domains', name, file);
    else if (isDevice) {
      throw usageError(
        'E_RESTORE_DIR',
        `snapshot ${manifest.id}: ${disk.target} is a block device (an LVM volume, say); restore writes image files`,
        `say where they go with --dir=DIR (images go to DIR/domains/${name}, e.g. --dir=/srv/xen), or restore onto new volumes with --lvm=VG`,
      );
    } else if (!options.isNewIdentity) host = original;
    else {
      const parent = path.dirname(original);
      if (path.basename(parent) !== manifest.guest || path.basename(path.dirname(parent)) !== 'domains') {
        throw usageError(
          'E_RESTORE_DIR',
          `snapshot ${manifest.id}: ${disk.target} is not in a DIR/domains/${manifest.guest} directory`,
          `say where the copy goes with --dir=DIR (images go to DIR/domains/${name})`,
        );
      }
      host = path.join(path.dirname(parent), name, file);
    }
    return {
      disk,
      host,
      temp: temporaryName(host, 'restore'),
      cfgTarget: cfgPathFor(paths, host),
      format: disk.format,
    };
  });
}

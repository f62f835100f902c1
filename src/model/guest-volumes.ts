/**
 * Every volume of a guest (root, swap, and a `--partitions` layout's others) in xen-tools'
 * partition order, with the names its images and logical volumes get: `NAME.img` in
 * DIR/domains/HOST and `HOST-NAME` in the VG, where NAME is the layout's section (`disk` and
 * `swap` without a layout), as xen-create-image names them.
 */
import type { FsType, GuestSpec } from './guest-spec.js';

/** One volume of a guest. */
export interface GuestVolumeEntry {
  role: 'root' | 'swap' | 'volume';
  /** Section name: `disk`, `swap`, or the layout's. */
  name: string;
  /** Bytes. */
  size: number;
  /** Guest device (`xvda2`). */
  device: string;
  type: FsType | 'swap';
  /** `/`, `/home`, ...; empty for swap. */
  mountpoint: string;
  /** fstab options; empty for swap. */
  mountOptions: string;
}

/** The guest's volumes by partition number: swap, "/", then the others (shorter mount points first). */
export function listGuestVolumes(spec: Pick<GuestSpec, 'disk' | 'swap' | 'volumes'>): GuestVolumeEntry[] {
  const entries: GuestVolumeEntry[] = [];
  if (spec.swap)
    entries.push({
      role: 'swap',
      name: spec.swap.name ?? 'swap',
      size: spec.swap.size,
      device: spec.swap.device,
      type: 'swap',
      mountpoint: '',
      mountOptions: '',
    });
  entries.push({
    role: 'root',
    name: spec.disk.name ?? 'disk',
    size: spec.disk.size,
    device: spec.disk.device,
    type: spec.disk.fs,
    mountpoint: '/',
    mountOptions: spec.disk.mountOptions,
  });
  for (const v of spec.volumes ?? [])
    entries.push({
      role: 'volume',
      name: v.name,
      size: v.size,
      device: v.device,
      type: v.fs,
      mountpoint: v.mountpoint,
      mountOptions: v.mountOptions,
    });
  return entries;
}

/** The image file name of a volume in the guest's directory (`disk.img`, `home.img`). */
export function volumeImageName(name: string): string {
  return `${name}.img`;
}

/** The logical volume name of a volume (`web1-disk`, `web1-home`): after the hostname as given. */
export function volumeLvName(hostname: string, name: string): string {
  return `${hostname}-${name}`;
}

/**
 * Every volume of a guest (root, swap, and a `--partitions` layout's others) in xen-tools'
 * partition order, with the names its images and logical volumes get: `NAME.img` in
 * DIR/domains/HOST and `HOST-NAME` in the VG, where NAME is the layout's section (`disk` and
 * `swap` without a layout), as xen-create-image names them.
 */
import type { GuestIds } from './guest-ids.js';
import type { FsType, GuestSpec, SwapSpec } from './guest-spec.js';

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
export function listGuestVolumes(
  spec: Pick<GuestSpec, 'disk' | 'swap' | 'extraSwaps' | 'volumes'>,
): GuestVolumeEntry[] {
  const entries: GuestVolumeEntry[] = listGuestSwaps(spec).map((swap) => ({
    role: 'swap',
    name: swap.name,
    size: swap.size,
    device: swap.device,
    type: 'swap',
    mountpoint: '',
    mountOptions: '',
  }));
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

/** One swap volume of a guest, named (`swap` without a layout). */
export interface GuestSwap extends SwapSpec {
  name: string;
}

/** Every swap volume in partition order: `swap`, then a layout's further swap sections. */
export function listGuestSwaps(spec: Pick<GuestSpec, 'swap' | 'extraSwaps'>): GuestSwap[] {
  const first = spec.swap ? [{ ...spec.swap, name: spec.swap.name ?? 'swap' }] : [];
  return [...first, ...(spec.extraSwaps ?? []).map((s) => ({ ...s, name: s.name ?? 'swap' }))];
}

/** The mkswap UUID of a swap volume: `swapUuid` for the first, `volumeUuids` by name for the others. */
export function swapUuidOf(
  spec: Pick<GuestSpec, 'swap'>,
  ids: GuestIds,
  swap: GuestSwap,
): string | undefined {
  return swap.name === (spec.swap?.name ?? 'swap') ? ids.swapUuid : ids.volumeUuids?.[swap.name];
}

/** The image file name of a volume in the guest's directory (`disk.img`, `home.img`). */
export function volumeImageName(name: string): string {
  return `${name}.img`;
}

/** The logical volume name of a volume (`web1-disk`, `web1-home`): after the hostname as given. */
export function volumeLvName(hostname: string, name: string): string {
  return `${hostname}-${name}`;
}

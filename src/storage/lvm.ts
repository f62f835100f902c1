/**
 * LVM-backed guests (`--lvm VG`, `--lvm_thin POOL`): the volumes `/dev/VG/HOSTNAME-disk` and
 * `HOSTNAME-swap`, as xen-tools names them. Unlike xen-tools 4.9.2, which hands a new guest
 * whatever an old guest left on the extents, every thick volume is zeroed before use. Thin
 * volumes need no wipe: a thin pool maps new blocks on first write and reads unmapped ones as
 * zeros (with the pool's default zeroing on, a partly written new block is zero-filled too).
 */
import { open } from 'node:fs/promises';
import { access } from 'node:fs/promises';
import { runtimeError, usageError } from '../errors.js';
import {
  createVolume,
  isVolumeOpen,
  listVolumes,
  readVolumeGroup,
  removeVolume,
  zeroDevice,
  type LogicalVolume,
} from '../tools/lvm.js';
import type { StorageContext } from './context.js';
import { humanSize } from './free-space.js';

/** The names (not paths) of a guest's volumes. */
export function lvmVolumeNames(hostname: string): { disk: string; swap: string } {
  return { disk: `${hostname}-disk`, swap: `${hostname}-swap` };
}

/** `/dev/VG/NAME`: the path LVM (or udev) gives a volume. */
export function lvmVolumePath(vg: string, name: string): string {
  return `/dev/${vg}/${name}`;
}

/** What to create. */
export interface GuestVolumeRequest {
  vg: string;
  name: string;
  sizeBytes: number;
  thinPool?: string | undefined;
  /** `--force`: remove a stopped volume of the same name first (what xen-tools does). */
  replace: boolean;
}

/** A created (and wiped) volume. */
export interface GuestVolume {
  vg: string;
  name: string;
  path: string;
  /** Rounded up to whole extents by LVM. */
  sizeBytes: number;
  wiped: 'zeroed' | 'thin';
}

/**
 * Checks, before anything is created, that the VG (and pool) exist and that a thick guest fits:
 * every volume is rounded up to whole extents, as lvcreate will.
 */
export async function checkVolumeGroup(
  vg: string,
  thinPool: string | undefined,
  sizes: number[],
  ctx: StorageContext,
): Promise<void> {
  const group = await readVolumeGroup(vg, { sink: ctx.sink, signal: ctx.signal });
  if (!group) {
    throw usageError(
      'E_LVM_NO_VG',
      `volume group "${vg}" does not exist`,
      'list the volume groups with: vgs',
    );
  }
  if (thinPool) {
    const pool = (await listVolumes(vg, { sink: ctx.sink, signal: ctx.signal })).find(
      (lv) => lv.name === thinPool,
    );
    if (!pool || pool.attr.charAt(0) !== 't') {
      throw usageError(
        'E_LVM_NO_POOL',
        `thin pool "${vg}/${thinPool}" does not exist`,
        `create it with: lvcreate --type thin-pool -L SIZE -n ${thinPool} ${vg}`,
      );
    }
    return;
  }
  const extent = group.extentBytes || 4 * 1024 * 1024;
  const needed = sizes.reduce((sum, s) => sum + Math.ceil(s / extent) * extent, 0);
  if (needed > group.freeBytes) {
    throw runtimeError(
      'E_LVM_NO_SPACE',
      `volume group "${vg}" has ${humanSize(group.freeBytes)} free, the guest needs ${humanSize(needed)}`,
      'choose smaller --size/--swap, use --lvm_thin, or extend the volume group (vgextend)',
    );
  }
}

/**
 * Creates one volume, registers its removal on the undo stack, and wipes it: a new guest never
 * sees an old guest's data.
 */
export async function createGuestVolume(
  request: GuestVolumeRequest,
  ctx: StorageContext,
): Promise<GuestVolume> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const { vg, name } = request;
  const existing = (await listVolumes(vg, exec)).find((lv) => lv.name === name);
  if (existing) {
    if (!request.replace) {
      throw runtimeError(
        'E_LVM_EXISTS',
        `logical volume ${vg}/${name} exists already`,
        'remove the old guest first (xen-delete-image), or add --force to replace it',
      );
    }
    assertNotOpen(existing);
    await removeVolume(vg, name, exec);
  }
  const sizeBytes = Math.ceil(request.sizeBytes / 512) * 512;
  await createVolume({ vg, name, sizeBytes, thinPool: request.thinPool }, exec);
  ctx.undo.push(`remove logical volume ${vg}/${name}`, () => removeVolume(vg, name, { sink: ctx.sink }));
  const path = lvmVolumePath(vg, name);
  await waitForDevice(path);
  const created = (await listVolumes(vg, exec)).find((lv) => lv.name === name);
  if (!request.thinPool) await wipeDevice(path, created?.sizeBytes ?? sizeBytes, ctx);
  return {
    vg,
    name,
    path,
    sizeBytes: created?.sizeBytes ?? sizeBytes,
    wiped: request.thinPool ? 'thin' : 'zeroed',
  };
}

/** Zeroes a device: in the kernel with blkdiscard, else by writing zeros from here. */
export async function wipeDevice(device: string, sizeBytes: number, ctx: StorageContext): Promise<void> {
  if (await zeroDevice(device, { sink: ctx.sink, signal: ctx.signal })) return;
  ctx.sink({ type: 'warn', message: `blkdiscard --zeroout failed on ${device}: writing zeros instead` });
  const handle = await open(device, 'r+');
  try {
    const chunk = Buffer.alloc(4 * 1024 * 1024);
    for (let offset = 0; offset < sizeBytes; offset += chunk.length) {
      ctx.signal.throwIfAborted();
      await handle.write(chunk, 0, Math.min(chunk.length, sizeBytes - offset), offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The guest's volumes that exist in `vg` (disk first, then swap). */
export async function findGuestVolumes(
  vg: string,
  hostname: string,
  ctx: Pick<StorageContext, 'sink' | 'signal'>,
): Promise<LogicalVolume[]> {
  const names = lvmVolumeNames(hostname);
  const all = await listVolumes(vg, { sink: ctx.sink, signal: ctx.signal });
  return [names.disk, names.swap].flatMap((n) => all.filter((lv) => lv.name === n));
}

/** Removes every volume of the guest (none is removed if any is in use); returns their names. */
export async function deleteGuestVolumes(
  vg: string,
  hostname: string,
  ctx: Pick<StorageContext, 'sink' | 'signal'>,
): Promise<string[]> {
  const volumes = await findGuestVolumes(vg, hostname, ctx);
  volumes.forEach(assertNotOpen);
  for (const lv of volumes) await removeVolume(vg, lv.name, { sink: ctx.sink, signal: ctx.signal });
  return volumes.map((lv) => lv.name);
}

/** Throws E_LVM_BUSY when the volume is open (a running guest, a mount). */
export function assertNotOpen(lv: LogicalVolume): void {
  if (isVolumeOpen(lv)) {
    throw runtimeError(
      'E_LVM_BUSY',
      `logical volume ${lv.vg}/${lv.name} is in use`,
      'shut the guest down (xm shutdown) and unmount the volume first',
    );
  }
}

// Without udev (containers, minimal hosts) LVM makes the node itself; with udev it appears a
// moment after lvcreate returns.
async function waitForDevice(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(path);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw runtimeError(
          'E_LVM_NO_DEVICE',
          `${path} did not appear after lvcreate`,
          'is udev running? try: udevadm settle',
          error,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

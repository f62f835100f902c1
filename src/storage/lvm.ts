/**
 * LVM-backed guests (`--lvm VG`, `--lvm_thin POOL`): the volumes `/dev/VG/HOSTNAME-disk` and
 * `HOSTNAME-swap`, as xen-tools names them. Unlike xen-tools 4.9.2, which hands a new guest
 * whatever an old guest left on the extents, every thick volume is zeroed before use. Thin
 * volumes need no wipe: a thin pool maps new blocks on first write and reads unmapped ones as
 * zeros (with the pool's default zeroing on, a partly written new block is zero-filled too).
 */
import { randomBytes } from 'node:crypto';
import { access, open } from 'node:fs/promises';
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
import { humanSize } from './free-space.js';
import type { StepScope } from '../plan/plan.js';

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
  /** The name it was made under: `finalName`, or a temporary one while an old volume exists. */
  name: string;
  finalName: string;
  path: string;
  /** Rounded up to whole extents by LVM. */
  sizeBytes: number;
  wiped: 'zeroed' | 'thin';
}

/** How checkVolumeGroup treats volumes that exist already, and what it suggests. */
export interface VolumeGroupCheck {
  /** A thin pool the volumes go into (no free-space check then). */
  thinPool?: string;
  /** Existing volumes of these names may be replaced (`--force`): they must not be in use. */
  replace: boolean;
  /** The error for volumes that exist and may not be replaced (default: create-image's). */
  existsError?: (existing: string[]) => Error;
  /** The hint when the volumes do not fit (default: create-image's options). */
  noSpaceHint?: string;
}

/**
 * Checks, before anything is created (the plan runs this before the bootstrap), that the VG (and
 * pool) exist, that a thick guest fits (every volume rounded up to whole extents, as lvcreate
 * will), and that the guest's volumes are either new or, with `replace`, not in use. Usage errors:
 * the command line asks for something this VG cannot give.
 */
export async function checkVolumeGroup(
  vg: string,
  volumes: { name: string; sizeBytes: number }[],
  check: VolumeGroupCheck,
  ctx: Pick<StepScope, 'sink' | 'signal'>,
): Promise<void> {
  const { thinPool, replace, noSpaceHint } = check;
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const group = await readVolumeGroup(vg, exec);
  if (!group) {
    throw usageError(
      'E_LVM_NO_VG',
      `volume group "${vg}" does not exist`,
      'list the volume groups with: vgs',
    );
  }
  const all = await listVolumes(vg, exec);
  const existing = all.filter((lv) => volumes.some((v) => v.name === lv.name));
  if (existing.length > 0 && !replace) {
    throw (
      check.existsError?.(existing.map((lv) => `${vg}/${lv.name}`)) ??
      usageError(
        'E_LVM_EXISTS',
        `logical volume ${vg}/${existing[0]!.name} exists already`,
        'remove the old guest first (xen-delete-image --lvm ' + vg + '), or add --force to replace it',
      )
    );
  }
  for (const lv of existing) assertNotOpen(lv);
  if (thinPool) {
    const pool = all.find((lv) => lv.name === thinPool);
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
  const needed = volumes.reduce((sum, v) => sum + Math.ceil(v.sizeBytes / extent) * extent, 0);
  if (needed > group.freeBytes) {
    const sizes = volumes.map((v) => `${v.name} ${humanSize(v.sizeBytes)}`).join(' + ');
    throw usageError(
      'E_LVM_NO_SPACE',
      `volume group "${vg}" has ${humanSize(group.freeBytes)} free, the guest needs ${humanSize(needed)} (${sizes})`,
      noSpaceHint ??
        (replace
          ? 'with --force the old volumes stay until the new guest is complete, so both must fit; ' +
            'choose smaller --size/--swap, delete the old guest first, or extend the VG (vgextend)'
          : 'choose smaller --size/--swap, use --lvm_thin, or extend the volume group (vgextend)'),
    );
  }
}

/**
 * Creates one volume, registers its removal on the undo stack, and wipes it: a new guest never
 * sees an old guest's data. When a volume of that name exists (`--force`), the new one is made
 * under a temporary name and the old one stays untouched; commitGuestVolumes swaps them at the end.
 */
export async function createGuestVolume(request: GuestVolumeRequest, ctx: StepScope): Promise<GuestVolume> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  const { vg } = request;
  const existing = (await listVolumes(vg, exec)).find((lv) => lv.name === request.name);
  if (existing) {
    if (!request.replace) {
      throw runtimeError(
        'E_LVM_EXISTS',
        `logical volume ${vg}/${request.name} exists already`,
        'remove the old guest first (xen-delete-image), or add --force to replace it',
      );
    }
    assertNotOpen(existing);
  }
  const name = existing ? temporaryVolumeName(request.name, 'new') : request.name;
  const sizeBytes = Math.ceil(request.sizeBytes / 512) * 512;
  const undo = `remove logical volume ${vg}/${name}`;
  const intent = ctx.undo.expect(undo, { kind: 'lv', vg, name });
  try {
    await createVolume({ vg, name, sizeBytes, thinPool: request.thinPool }, exec);
  } catch (error) {
    intent.cancel();
    throw error;
  }
  ctx.undo.push(undo, () => removeVolume(vg, name, { sink: ctx.sink }), intent);
  const path = lvmVolumePath(vg, name);
  await waitForDevice(path);
  const created = (await listVolumes(vg, exec)).find((lv) => lv.name === name);
  if (!request.thinPool) await wipeDevice(path, created?.sizeBytes ?? sizeBytes, ctx);
  return {
    vg,
    name,
    finalName: request.name,
    path,
    sizeBytes: created?.sizeBytes ?? sizeBytes,
    wiped: request.thinPool ? 'thin' : 'zeroed',
  };
}

/** `NAME.xenkit-new-XXXX` / `NAME.xenkit-old-XXXX`: a name no guest uses (LVM allows dots). */
export function temporaryVolumeName(name: string, kind: 'new' | 'old'): string {
  return `${name}.xenkit-${kind}-${randomBytes(3).toString('hex')}`;
}

/** Zeroes a device: in the kernel with blkdiscard, else by writing zeros from here. */
export async function wipeDevice(device: string, sizeBytes: number, ctx: StepScope): Promise<void> {
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
/** Waits until the node of a new volume `path` exists (E_LVM_NO_DEVICE after `timeoutMs`). */
export async function waitForDevice(path: string, timeoutMs = 10_000): Promise<void> {
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

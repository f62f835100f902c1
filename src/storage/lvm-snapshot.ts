/**
 * LVM snapshots of a running guest's volumes, for a backup taken at one point in time: the
 * backup reads the snapshot while the guest keeps writing to the origin. A thick volume's
 * snapshot gets copy-on-write room for what the guest writes meanwhile: a quarter of the origin,
 * at least 64 MiB, never more than the origin (it can then never overflow) nor than the VG has
 * free; a thin volume's snapshot is thin in its pool and needs no size. Every snapshot is
 * removed when the read is done, and by the undo stack on a failure or signal (journaled, so
 * the next run removes one a SIGKILL left).
 */
import { randomBytes } from 'node:crypto';
import { runtimeError } from '../errors.js';
import type { StepScope } from '../plan/plan.js';
import {
  createSnapshot,
  isSnapshotInvalid,
  readVolumeAt,
  readVolumeGroup,
  removeVolume,
  type LogicalVolume,
} from '../tools/lvm.js';
import { humanSize } from './free-space.js';
import { parseVolumePath } from './lvm-guest.js';
import { lvmVolumePath, waitForDevice } from './lvm.js';

const MiB = 1024 * 1024;
/** The least copy-on-write room a thick snapshot gets (less when the origin is smaller). */
export const MIN_SNAPSHOT_BYTES = 64 * MiB;

/** One snapshot made: the origin volume's device and the snapshot's. */
export interface VolumeSnapshot {
  origin: string;
  vg: string;
  name: string;
  device: string;
  /** Copy-on-write room (undefined: thin). */
  sizeBytes: number | undefined;
}

/** The copy-on-write room a thick snapshot of `originBytes` asks for (before the VG's free space). */
export function snapshotBytes(originBytes: number): number {
  return Math.min(originBytes, Math.max(MIN_SNAPSHOT_BYTES, Math.ceil(originBytes / 4)));
}

/** `ORIGIN.xenkit-snap-XXXXXX`: a name no guest uses. */
export function snapshotName(origin: string): string {
  return `${origin}.xenkit-snap-${randomBytes(3).toString('hex')}`;
}

/** The logical volume at `device`, when it is one (`/dev/VG/LV` that LVM knows). */
export async function findVolume(device: string, ctx: StepScope): Promise<LogicalVolume | undefined> {
  if (!parseVolumePath(device)) return undefined;
  return readVolumeAt(device, { sink: ctx.sink, signal: ctx.signal });
}

/** Makes a snapshot of `lv` (device `origin`), its removal on the undo stack. */
export async function snapshotVolume(
  origin: string,
  lv: LogicalVolume,
  ctx: StepScope,
): Promise<VolumeSnapshot> {
  const exec = { sink: ctx.sink, signal: ctx.signal };
  let sizeBytes: number | undefined;
  if (lv.pool === undefined) {
    const group = await readVolumeGroup(lv.vg, exec);
    const extent = group?.extentBytes || 4 * MiB;
    const free = Math.floor((group?.freeBytes ?? 0) / extent) * extent;
    const wanted = Math.ceil(snapshotBytes(lv.sizeBytes) / extent) * extent;
    sizeBytes = Math.min(wanted, free);
    if (sizeBytes < Math.min(wanted, MIN_SNAPSHOT_BYTES)) {
      throw runtimeError(
        'E_BACKUP_SNAPSHOT',
        `volume group ${lv.vg} has ${humanSize(free)} free; a snapshot of ${lv.vg}/${lv.name} needs ${humanSize(wanted)} for what the guest writes while it is read`,
        `free room in ${lv.vg} (vgs ${lv.vg}), or shut the guest down and back it up stopped`,
      );
    }
  }
  const name = snapshotName(lv.name);
  const undo = `remove snapshot ${lv.vg}/${name}`;
  const intent = ctx.undo.expect(undo, { kind: 'lv', vg: lv.vg, name });
  try {
    await createSnapshot(lv.vg, lv.name, name, sizeBytes, exec);
  } catch (error) {
    intent.cancel();
    throw error;
  }
  ctx.undo.push(undo, () => removeVolume(lv.vg, name, { sink: ctx.sink }), intent);
  const device = lvmVolumePath(lv.vg, name);
  await waitForDevice(device);
  return { origin, vg: lv.vg, name, device, sizeBytes };
}

/** Throws E_BACKUP_SNAPSHOT when the snapshot overflowed while it was read (what was read is not one moment). */
export async function checkSnapshot(snapshot: VolumeSnapshot, ctx: StepScope): Promise<void> {
  const lv = await readVolumeAt(snapshot.device, { sink: ctx.sink });
  if (!lv || isSnapshotInvalid(lv)) {
    throw runtimeError(
      'E_BACKUP_SNAPSHOT',
      `the snapshot ${snapshot.vg}/${snapshot.name} of ${snapshot.origin} overflowed (${humanSize(snapshot.sizeBytes ?? 0)} of copy-on-write room) while it was read`,
      `the guest wrote more than that meanwhile: free room in ${snapshot.vg}, or back it up while it writes less`,
    );
  }
}

/** Removes the snapshot and drops its undo entry. */
export async function removeSnapshot(snapshot: VolumeSnapshot, ctx: StepScope): Promise<void> {
  await removeVolume(snapshot.vg, snapshot.name, { sink: ctx.sink });
  ctx.undo.release(`remove snapshot ${snapshot.vg}/${snapshot.name}`);
}

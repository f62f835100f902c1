/**
 * Backing up a running guest at one point in time. Under QEMU the driver copies the disks as they
 * were at one moment while the guest keeps running (a QMP block job, see
 * hypervisors/qemu/disk-copy.ts) and the copies are read instead of the live images. A driver
 * without such copies (xl) reads LVM snapshots when every disk is a logical volume (the guest is
 * not paused for one volume; for several it is paused only while the snapshots are made, so they
 * show one moment), else has the guest paused while its images are read, and unpaused after,
 * whatever happened. The copy is crash-consistent: what a power cut at that moment would leave.
 */
import { runtimeError } from '../errors.js';
import type { HypervisorDriver } from '../hypervisors/driver.js';
import type { StepContext } from '../plan/plan.js';
import {
  checkSnapshot,
  findVolume,
  removeSnapshot,
  snapshotVolume,
  type VolumeSnapshot,
} from '../storage/lvm-snapshot.js';
import type { LogicalVolume } from '../tools/lvm.js';
import type { GuestFiles } from './guest-files.js';

/** How a running guest was copied at one moment (kept in the manifest, shown in the summary). */
export interface PointInTime {
  method: string;
  /** How long the guest's vCPUs were stopped (0: never). */
  pausedMs: number;
  /** How long its disk requests were held while the copy began. */
  heldMs: number;
  /** How long the copy (or, paused, the whole read) took. */
  copyMs: number;
}

/** The driver a running guest was found under, and its name there. */
export interface LiveGuest {
  kind: 'qemu' | 'xl';
  name: string;
  driver: HypervisorDriver;
}

/**
 * Runs `store` on a point-in-time view of the guest's disks: `sourceOf(image)` is the file to read
 * for each image. Returns how that view was taken.
 */
export async function copyGuestDisks(
  guest: GuestFiles,
  live: LiveGuest,
  ctx: StepContext,
  store: (sourceOf: (image: string) => string) => Promise<void>,
): Promise<PointInTime> {
  const { driver } = live;
  if (driver.copyDisks) {
    ctx.reporter.info(`copying the disks of the running guest ${live.name} at one moment`);
    const copy = await driver.copyDisks(
      live.name,
      guest.disks.map((d) => d.path),
      ctx.signal,
    );
    const undo = `remove the point-in-time copies of ${guest.name}'s disks`;
    ctx.undo.push(undo, () => copy.release());
    try {
      const byImage = new Map(copy.disks.map((d) => [d.image, d.copy]));
      await store((image) => {
        const file = byImage.get(image);
        if (file === undefined)
          throw runtimeError('E_BACKUP_COPY', `no copy of ${image} was made`, 'report this');
        return file;
      });
    } finally {
      await copy.release();
      ctx.undo.release(undo);
    }
    return { method: copy.method, pausedMs: copy.pausedMs, heldMs: copy.heldMs, copyMs: copy.copyMs };
  }
  const volumes = await Promise.all(guest.disks.map((d) => findVolume(d.path, ctx)));
  if (volumes.length > 0 && volumes.every((v) => v !== undefined)) {
    return readSnapshots(guest, live, volumes as LogicalVolume[], ctx, store);
  }
  ctx.reporter.info(`pausing ${live.name} while its images are read`);
  const started = performance.now();
  await driver.pause(live.name);
  try {
    await store((image) => image);
  } finally {
    await driver.unpause(live.name);
  }
  const pausedMs = Math.round(performance.now() - started);
  return {
    method: `${live.kind} pause while the images were read`,
    pausedMs,
    heldMs: pausedMs,
    copyMs: pausedMs,
  };
}

/**
 * Reads LVM snapshots of the guest's volumes instead of the volumes. One volume: the guest is
 * never paused (lvcreate suspends the volume's requests for the moment it takes). Several: the
 * guest is paused while the snapshots are made, so that all of them show the same moment.
 */
async function readSnapshots(
  guest: GuestFiles,
  live: LiveGuest,
  volumes: LogicalVolume[],
  ctx: StepContext,
  store: (sourceOf: (image: string) => string) => Promise<void>,
): Promise<PointInTime> {
  const isPausing = volumes.length > 1;
  ctx.reporter.info(
    `snapshotting the volumes of the running guest ${live.name}${isPausing ? ' (paused meanwhile)' : ''}`,
  );
  const snapshots: VolumeSnapshot[] = [];
  const started = performance.now();
  let pausedMs = 0;
  try {
    if (isPausing) await live.driver.pause(live.name);
    try {
      for (const [i, lv] of volumes.entries())
        snapshots.push(await snapshotVolume(guest.disks[i]!.path, lv, ctx));
    } finally {
      if (isPausing) {
        await live.driver.unpause(live.name);
        pausedMs = Math.round(performance.now() - started);
      }
    }
    const heldMs = Math.round(performance.now() - started);
    const copyStarted = performance.now();
    const byImage = new Map(snapshots.map((s) => [s.origin, s.device]));
    await store((image) => byImage.get(image) ?? image);
    for (const snapshot of snapshots) await checkSnapshot(snapshot, ctx);
    return {
      method: `LVM snapshot${snapshots.length > 1 ? 's' : ''} (${snapshots.map((s) => `${s.vg}/${s.name}`).join(', ')})`,
      pausedMs,
      heldMs,
      copyMs: Math.round(performance.now() - copyStarted),
    };
  } finally {
    // Removed in the normal flow and after a failure alike; a signal's unwind runs the undo entries.
    for (const snapshot of snapshots.reverse()) await removeSnapshot(snapshot, ctx);
  }
}

/**
 * Backing up a running guest at one point in time. Under QEMU the driver copies the disks as they
 * were at one moment while the guest keeps running (a QMP block job, see
 * hypervisors/qemu/disk-copy.ts) and the copies are read instead of the live images. A driver
 * without such copies (xl) has the guest paused while its images are read, and unpaused after,
 * whatever happened. The copy is crash-consistent: what a power cut at that moment would leave.
 */
import { runtimeError } from '../errors.js';
import type { HypervisorDriver } from '../hypervisors/driver.js';
import type { StepContext } from '../plan/plan.js';
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

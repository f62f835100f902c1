/**
 * A copy of a running QEMU guest's disks as they were at one moment, taken while the guest keeps
 * running: one QMP `transaction` starts a `blockdev-backup sync=full` job per disk into a new
 * sparse raw file beside the image. The jobs' copy-before-write filters make each copy the disk
 * as it was when the transaction ran (a guest write to a block not copied yet first copies the old
 * block), and the transaction makes that one moment for all disks. The vCPUs are never stopped;
 * QEMU only drains the disks' in-flight requests while it inserts the filters (`heldMs`).
 *
 * Why a full copy into a file and not fleecing (a sync=none job into a qcow2 overlay backed by the
 * live disk, read through QEMU's NBD server): fleecing stores only the blocks the guest overwrites
 * meanwhile and reads the disk once, but needs an NBD client in the reader; the full copy costs
 * the disk's data once more in writes and temporary space, and the backup then reads an ordinary
 * sparse file with the code that reads stopped guests' images.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runtimeError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import type { CopiedDisk, RunningDiskCopy } from '../driver.js';
import type { QmpClient, QmpEvent } from './qmp-client.js';

/** The QEMU node of disk `index` (argv.ts names the format node of the i-th cfg disk `disk<i>`). */
function nodeOf(index: number): string {
  return `disk${index}`;
}

/** The job and target node of one copy, unique per run so a leftover of a killed run cannot clash. */
function copyNames(index: number, tag: string): { job: string; node: string } {
  return { job: `xenkit-backup-${tag}-${index}`, node: `xenkit-backup-${tag}-${index}` };
}

/**
 * Copies the disks `images` (host paths, as the cfg names them) of the guest `config` runs with.
 * The copies are new files beside each image; on any failure everything made is removed.
 */
export async function copyRunningDisks(
  qmp: QmpClient,
  config: DomainConfig,
  images: readonly string[],
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<RunningDiskCopy> {
  const tag = randomBytes(3).toString('hex');
  const wanted = images.map((image) => {
    const index = config.disks.findIndex((d) => !d.isCdrom && path.resolve(d.target) === path.resolve(image));
    if (index < 0) {
      throw runtimeError(
        'E_BACKUP_DISK',
        `guest "${config.name}" does not run on ${image} (its QEMU has ${config.disks.map((d) => d.target).join(', ')})`,
        'the cfg changed since the guest started: back it up after a restart',
      );
    }
    const copy = path.join(path.dirname(image), `.${path.basename(image)}.xenkit-backup-${tag}`);
    return { image, index, copy, ...copyNames(index, tag) };
  });
  const made: CopiedDisk[] = [];
  const nodes: string[] = [];
  const jobs = new Set<string>();
  const release = async (): Promise<void> => {
    for (const job of jobs)
      await qmp.execute('block-job-cancel', { device: job, force: true }).catch(() => undefined);
    for (const job of jobs) await waitUntilGone(qmp, job);
    jobs.clear();
    for (const node of nodes.splice(0))
      await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
    for (const d of made.splice(0)) await fs.rm(d.copy, { force: true });
  };
  try {
    const sizes = await nodeSizes(qmp);
    for (const w of wanted) {
      const size = sizes.get(nodeOf(w.index));
      if (size === undefined)
        throw runtimeError(
          'E_QMP',
          `guest "${config.name}": QEMU has no node ${nodeOf(w.index)}`,
          'restart the guest with this xenkit',
        );
      const handle = await fs.open(w.copy, 'wx', 0o600);
      made.push({ image: w.image, copy: w.copy, size });
      try {
        await handle.truncate(size);
      } finally {
        await handle.close();
      }
      await qmp.execute('blockdev-add', {
        driver: 'raw',
        'node-name': w.node,
        file: { driver: 'file', filename: w.copy, discard: 'unmap' },
        // The job writes the disk's zeros too: as holes (or unwritten extents), not data.
        discard: 'unmap',
        'detect-zeroes': 'unmap',
      });
      nodes.push(w.node);
    }
    const ended = new Map<string, QmpEvent>();
    const waiters = new Map<string, () => void>();
    const stop = qmp.onEvent((event) => {
      if (event.event !== 'BLOCK_JOB_COMPLETED' && event.event !== 'BLOCK_JOB_CANCELLED') return;
      const job = String(event.data.device ?? '');
      ended.set(job, event);
      waiters.get(job)?.();
    });
    try {
      const began = performance.now();
      await qmp.execute('transaction', {
        actions: wanted.map((w) => ({
          type: 'blockdev-backup',
          data: { 'job-id': w.job, device: nodeOf(w.index), target: w.node, sync: 'full' },
        })),
      });
      const heldMs = Math.round(performance.now() - began);
      for (const w of wanted) jobs.add(w.job);
      for (const w of wanted) {
        await new Promise<void>((resolve, reject) => {
          if (ended.has(w.job)) return resolve();
          const timer = setTimeout(
            () =>
              reject(
                runtimeError(
                  'E_BACKUP_COPY',
                  `guest "${config.name}": the copy of ${w.image} did not end in time`,
                  'the host may be overloaded; try again',
                ),
              ),
            options.timeoutMs ?? 3_600_000,
          );
          const onAbort = (): void =>
            reject(runtimeError('E_CANCELLED', `the copy of ${w.image} was cancelled`));
          options.signal?.addEventListener('abort', onAbort, { once: true });
          waiters.set(w.job, () => {
            clearTimeout(timer);
            options.signal?.removeEventListener('abort', onAbort);
            resolve();
          });
        });
        const event = ended.get(w.job)!;
        jobs.delete(w.job);
        if (event.event !== 'BLOCK_JOB_COMPLETED' || event.data.error !== undefined) {
          throw runtimeError(
            'E_BACKUP_COPY',
            `guest "${config.name}": the copy of ${w.image} failed: ${String(event.data.error ?? 'cancelled')}`,
            'see the QEMU log of the guest; is there room beside the image for a copy?',
          );
        }
      }
      const copyMs = Math.round(performance.now() - began);
      // The copies are complete files now; QEMU lets go of them.
      for (const node of nodes.splice(0)) await qmp.execute('blockdev-del', { 'node-name': node });
      return {
        method: 'QMP transaction of blockdev-backup sync=full jobs (copy-before-write) while the guest ran',
        pausedMs: 0,
        heldMs,
        copyMs,
        disks: [...made],
        release,
      };
    } finally {
      stop();
    }
  } catch (error) {
    await release();
    throw error;
  }
}

/** Each block node's virtual size, by node name. */
async function nodeSizes(qmp: QmpClient): Promise<Map<string, number>> {
  const nodes = await qmp.execute<{ 'node-name': string; image: { 'virtual-size': number } }[]>(
    'query-named-block-nodes',
    { flat: true },
  );
  return new Map(nodes.map((n) => [n['node-name'], n.image['virtual-size']]));
}

/** Waits (bounded) until QEMU no longer lists the job. */
async function waitUntilGone(qmp: QmpClient, job: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    const list = await qmp.execute<{ device: string }[]>('query-block-jobs').catch(() => []);
    if (!list.some((j) => j.device === job)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

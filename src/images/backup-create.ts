/**
 * `xenkit backup create NAME...`: one snapshot per guest in the repository. One Plan:
 * lock the repository and the guests, store each guest's images chunk by chunk, write each
 * manifest last, then the files cache. A failure removes the manifests and chunks this run
 * wrote (a run killed outright leaves only unreferenced chunks and temporaries, which are
 * harmless: the next locked run sweeps the temporaries, prune frees the chunks).
 */
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { chunkPath } from '../backup/chunk-store.js';
import { loadFilesCache, saveFilesCache, type FilesCache } from '../backup/files-cache.js';
import { manifestPath, newSnapshotId, writeManifest, type Manifest } from '../backup/manifest.js';
import {
  lockRepository,
  openOrCreateRepository,
  openRepository,
  REPO_MARKER,
  sweepTemporaries,
  type Repository,
  type RepoSecret,
} from '../backup/repository.js';
import { storeImage, type RawImageView } from '../backup/store-image.js';
import { syncChunkDirs } from '../backup/chunk-store.js';
import { usageError } from '../errors.js';
import type { Paths } from '../paths.js';
import { readDataRanges } from '../tools/filefrag.js';
import { readDeviceSize } from '../tools/blockdev.js';
import { isBlockDevice } from '../storage/block-device.js';
import { readBackingFiles, readImageDataRanges } from '../tools/qemu-img.js';
import { closeRawView, openRawView } from './image-access.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanStep, StepContext } from '../plan/plan.js';
import { readGuestForBackup } from './backup-guest.js';
import { cfgPathOf, type GuestFiles } from './guest-files.js';
import type { HypervisorDriver } from '../hypervisors/driver.js';
import { checkGuestRunning, guestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';
import { copyGuestDisks, type LiveGuest, type PointInTime } from './backup-running.js';

export interface BackupCreateOptions {
  repoDir: string;
  /** The key file of an encrypted repository (`--encryption-key`); with create, makes a new one encrypted. */
  secret?: RepoSecret | undefined;
  names: string[];
  xenkitVersion: string;
  running?: RunningCheckOptions;
  /**
   * The driver a running guest runs under (`qemu` or `xl`): without it, a running guest is refused.
   * QEMU copies the disks at one moment while the guest runs; under xl the guest is paused meanwhile.
   */
  driverFor?: (kind: 'qemu' | 'xl') => Promise<HypervisorDriver>;
}

export interface BackupDiskOutcome {
  target: string;
  vdev: string;
  size: number;
  chunks: number;
  zeroChunks: number;
  readBytes: number;
  newChunks: number;
  newBytes: number;
  isCacheHit: boolean;
}

export interface BackupOutcome {
  snapshot: string;
  guest: string;
  manifest: string;
  logicalBytes: number;
  readBytes: number;
  newChunks: number;
  newBytes: number;
  ms: number;
  disks: BackupDiskOutcome[];
  /** How a running guest was copied at one moment (absent for a stopped guest). */
  pointInTime?: PointInTime;
}

export interface BackupCreateOutcome {
  repo: string;
  snapshots: BackupOutcome[];
}

/** Checks the guests and the repository (bad input before anything is written); builds the plan. */
export function buildBackupCreatePlan(
  paths: Paths,
  options: BackupCreateOptions,
): { plan: Plan; outcome: BackupCreateOutcome } {
  if (options.names.length === 0) {
    throw usageError(
      'E_USAGE',
      'backup create needs at least one guest name',
      'xenkit backup create NAME...',
    );
  }
  const guests = [...new Set(options.names)].map((name) => readGuestForBackup(paths, name));
  // A directory that is there but no repository is refused now, not after the lock.
  if (existsSync(path.join(options.repoDir, REPO_MARKER))) openRepository(options.repoDir, options.secret);
  const outcome: BackupCreateOutcome = { repo: options.repoDir, snapshots: [] };
  let repo: Repository | undefined;
  let cache: FilesCache = {};
  const seen = new Set<string>();
  const live = new Map<string, LiveGuest>();
  const steps: PlanStep[] = [
    {
      id: 'backup.lock',
      title: `Lock the repository ${options.repoDir} and guests ${guests.map((g) => g.name).join(', ')}`,
      actions: [
        { kind: 'mkdir', path: options.repoDir, mode: 0o700 },
        {
          kind: 'note',
          text: "take the repository lock and the guests' locks; check again that they are stopped",
        },
      ],
      run: async (ctx) => {
        const isNew = !existsSync(path.join(options.repoDir, REPO_MARKER));
        const hadDir = existsSync(options.repoDir);
        repo = await openOrCreateRepository(options.repoDir, undefined, options.secret);
        if (isNew) {
          const made = repo.dir;
          ctx.undo.push(`remove the new repository ${made}`, () =>
            hadDir
              ? Promise.all(
                  ['chunks', 'snapshots', 'cache', REPO_MARKER, 'lock'].map((n) =>
                    fs.rm(path.join(made, n), { recursive: true, force: true }),
                  ),
                ).then(() => undefined)
              : rmSync(made, { recursive: true, force: true }),
          );
        }
        const lock = await lockRepository(repo);
        ctx.undo.push(`release the lock of ${repo.dir}`, () => lock.release());
        ctx.undo.afterCommit(`release the lock of ${repo.dir}`, () => lock.release());
        await sweepTemporaries(repo);
        for (const guest of guests) {
          await lockGuest(paths.lockDir, guest.name, ctx);
          const identity = guestIdentity(guest.name, guest);
          const state = await checkGuestRunning(identity, paths, options.running);
          if (state.running && state.by !== 'image' && options.driverFor) {
            live.set(guest.name, {
              kind: state.by,
              name: state.name,
              driver: await options.driverFor(state.by),
            });
          } else {
            await refuseRunningGuest(identity, paths, 'back up', options.running);
          }
        }
        cache = await loadFilesCache(repo);
      },
    },
    ...guests.map((guest): PlanStep => ({
      id: `backup.guest.${guest.name}`,
      title: `Back up ${guest.name}: ${guest.disks.map((d) => d.path).join(', ')}`,
      actions: [
        {
          kind: 'note' as const,
          text: 'if it runs: under QEMU copy its disks at one moment while it runs (QMP blockdev-backup), under xl pause it while they are read',
        },
        ...guest.disks.map((d) => ({
          kind: 'note' as const,
          text: `store ${d.path} in chunks (unchanged since the last backup: reuse its chunk list)`,
        })),
        {
          kind: 'write',
          path: path.join(options.repoDir, 'snapshots', `${guest.name}-TIME-XXXX.json`),
          mode: 0o600,
        },
      ],
      run: async (ctx) => {
        outcome.snapshots.push(
          await backUpGuest(paths, repo!, guest, {
            cache,
            seen,
            ctx,
            version: options.xenkitVersion,
            live: live.get(guest.name),
          }),
        );
      },
    })),
    {
      id: 'backup.cache',
      title: 'Save the files cache',
      actions: [{ kind: 'write', path: path.join(options.repoDir, 'cache', 'files.json'), mode: 0o600 }],
      run: async () => {
        await saveFilesCache(repo!, cache);
      },
    },
  ];
  return { plan: { subject: `backup of ${guests.map((g) => g.name).join(', ')}`, steps }, outcome };
}

/**
 * What the guest sees of a non-raw image, as a raw file (qemu-storage-daemon's read-only FUSE
 * export), with the data ranges `qemu-img map` finds through its backing chain.
 */
async function openGuestView(
  image: string,
  format: string,
  isPaused: boolean,
  ctx: StepContext,
): Promise<RawImageView> {
  const ranges = await readImageDataRanges(image, format, { sink: ctx.sink, signal: ctx.signal });
  // A paused guest's process holds the image's lock; it writes nothing while paused.
  const view = await openRawView(image, format, ctx, { readOnly: true, shareWithWriter: isPaused });
  return { path: view.rawPath, ranges, close: () => closeRawView(view, ctx) };
}

async function backUpGuest(
  paths: Paths,
  repo: Repository,
  guest: GuestFiles,
  run: {
    cache: FilesCache;
    seen: Set<string>;
    ctx: StepContext;
    version: string;
    live: LiveGuest | undefined;
  },
): Promise<BackupOutcome> {
  const { ctx } = run;
  const started = performance.now();
  const time = new Date();
  const id = newSnapshotId(guest.name, time);
  const dirs = new Set<string>();
  const made: string[] = [];
  ctx.undo.push(`remove the chunks the backup of ${guest.name} added`, async () => {
    for (const chunk of made) await fs.rm(chunkPath(repo, chunk), { force: true });
  });
  const disks: Manifest['disks'] = [];
  const outcomes: BackupDiskOutcome[] = [];
  const storeDisks = async (sourceOf: (image: string) => string, cache: FilesCache): Promise<void> => {
    for (const disk of guest.disks) {
      const source = sourceOf(disk.path);
      ctx.reporter.info(`reading ${source}`);
      // A running guest's copies are raw files whatever its images are.
      const format = source === disk.path ? disk.config.format : 'raw';
      const exec = { sink: ctx.sink, signal: ctx.signal };
      // A block device (an LVM volume or its snapshot): no extent map, every chunk is read.
      const isDevice = isBlockDevice(source);
      const stored = await storeImage(repo, source, {
        signal: ctx.signal,
        dirs,
        cache,
        seen: run.seen,
        made,
        ...(isDevice
          ? { deviceSize: await readDeviceSize(source, exec) }
          : { mapData: () => readDataRanges(source, exec) }),
        ...(format === 'raw'
          ? {}
          : {
              backing: await readBackingFiles(source, format, exec),
              open: () => openGuestView(source, format, run.live !== undefined, ctx),
            }),
      });
      disks.push({
        target: disk.config.target,
        vdev: disk.config.vdev,
        format: disk.config.format,
        size: stored.size,
        digest: stored.digest,
        chunks: stored.chunks,
      });
      outcomes.push({
        target: disk.config.target,
        vdev: disk.config.vdev,
        size: stored.size,
        chunks: stored.chunks.length,
        zeroChunks: stored.chunks.filter((c) => c === null).length,
        readBytes: stored.readBytes,
        newChunks: stored.newChunks,
        newBytes: stored.newBytes,
        isCacheHit: stored.isCacheHit,
      });
    }
  };
  const pointInTime = run.live
    ? await copyGuestDisks(guest, run.live, ctx, (sourceOf) => storeDisks(sourceOf, {}))
    : (await storeDisks((image) => image, run.cache), undefined);
  await syncChunkDirs(repo, dirs);
  const sum = (key: 'size' | 'readBytes' | 'newChunks' | 'newBytes'): number =>
    outcomes.reduce((n, d) => n + d[key], 0);
  const ms = Math.round(performance.now() - started);
  const manifest: Manifest = {
    format: 'xenkit-backup-snapshot',
    version: 1,
    id,
    guest: guest.name,
    time: time.toISOString(),
    xenkitVersion: run.version,
    chunkSize: repo.chunkSize,
    cfgPath: path.join('/', path.relative(paths.root, cfgPathOf(paths, guest.name))),
    cfgText: guest.cfgText,
    disks,
    ...(pointInTime ? { pointInTime } : {}),
    stats: {
      logicalBytes: sum('size'),
      readBytes: sum('readBytes'),
      newChunks: sum('newChunks'),
      newBytes: sum('newBytes'),
      cacheHits: outcomes.filter((d) => d.isCacheHit).length,
      ms,
    },
  };
  const file = manifestPath(repo, id);
  ctx.undo.push(`remove snapshot ${id}`, () => fs.rm(file, { force: true }));
  await writeManifest(repo, manifest);
  return {
    snapshot: id,
    guest: guest.name,
    manifest: file,
    logicalBytes: manifest.stats.logicalBytes,
    readBytes: manifest.stats.readBytes,
    newChunks: manifest.stats.newChunks,
    newBytes: manifest.stats.newBytes,
    ms,
    disks: outcomes,
    ...(pointInTime ? { pointInTime } : {}),
  };
}

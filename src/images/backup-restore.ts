/**
 * `xenkit backup restore ID|NAME`: a snapshot made an ordinary guest again, as transactionally as
 * create-image: sparse images written under temporary names beside their final ones, checked
 * chunk by chunk and whole against the manifest, then renamed into place (an image or cfg they
 * replace under --force is kept aside until the run commits), the cfg last. `--as NEW` gives
 * the copy its own identity with the clone code (MAC, SSH host keys, machine-id, filesystem UUIDs).
 * A guest on LVM volumes comes back on image files (`--dir` says where; `phy:` becomes `file:`,
 * backup-restore-targets.ts), or with `--lvm VG` on new logical volumes (backup-restore-lvm.ts).
 * Restore never writes to a device it did not make.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { restoreImage } from '../backup/restore-image.js';
import { listSnapshotIds, readManifest, isSnapshotId, type Manifest } from '../backup/manifest.js';
import { lockRepository, openRepository, type Repository, type RepoSecret } from '../backup/repository.js';
import { runtimeError, usageError } from '../errors.js';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import { quoteXlString } from '../formats/xl-cfg-values.js';
import { assertGuestName, guestNameProblem } from '../model/guest-name.js';
import { deriveXenToolsMac } from '../model/mac.js';
import type { Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanAction, PlanStep, StepContext } from '../plan/plan.js';
import { identityOf } from '../plan/run-journal.js';
import { moveIntoPlace, writeFileAtomically } from '../plan/write-file.js';
import { makeParents } from '../storage/image-file.js';
import { createImage } from '../tools/qemu-img.js';
import { describeVolumeRestore, lvmRestoreTargets, restoreToVolume } from './backup-restore-lvm.js';
import { fileRestoreTargets, type RestoreTarget } from './backup-restore-targets.js';
import { closeRawView, openRawView, type RawView } from './image-access.js';
import { cloneDiskSpec, renderCloneCfg, type CloneDiskChange } from './clone-cfg.js';
import { identifyClone, type ClonedDisk } from './clone-steps.js';
import { cfgPathOf, isPresent } from './guest-files.js';
import { networkFromCfg } from './guest-network.js';
import { replacedGuestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';

export interface BackupRestoreOptions {
  repoDir: string;
  /** The key file of an encrypted repository (`--encryption-key`); with create, makes a new one encrypted. */
  secret?: RepoSecret | undefined;
  /** A snapshot id, or a guest name (its newest snapshot). */
  ref: string;
  /** `--as NEW`: restore as another guest with an identity of its own. */
  as: string | undefined;
  /** `--dir DIR`: images go to DIR/domains/NAME. */
  dir: string | undefined;
  /** `--lvm VG`: new volumes /dev/VG/NAME-SECTION instead of image files. */
  lvm?: string | undefined;
  force: boolean;
  running?: RunningCheckOptions;
}

export interface RestoreOutcome {
  snapshot: string;
  source: string;
  name: string;
  cfgPath: string;
  images: { path: string; size: number; writtenBytes: number }[];
  mac: string | undefined;
  sshHostKeys: { type: string; bits: number; fingerprint: string }[];
  replaced: boolean;
  timings: Record<string, number>;
}

/** The snapshot `ref` names: an id, else the newest snapshot of guest `ref`. */
export async function findSnapshot(repo: Repository, ref: string): Promise<Manifest> {
  const ids = await listSnapshotIds(repo);
  if (isSnapshotId(ref) && ids.includes(ref)) return readChecked(repo, ref);
  if (guestNameProblem(ref) === undefined) {
    const mine = ids.filter((id) => id.startsWith(`${ref}-`));
    // Newest by the manifest's own time: ids of one guest sort by time, but read to be sure.
    const manifests = await Promise.all(mine.map((id) => readChecked(repo, id)));
    const own = manifests.filter((m) => m.guest === ref).sort((a, b) => a.time.localeCompare(b.time));
    const last = own[own.length - 1];
    if (last) return last;
  }
  throw usageError(
    'E_NO_SNAPSHOT',
    `"${ref}" is neither a snapshot id nor a guest with snapshots in ${repo.dir}`,
    'xenkit backup list shows the snapshots and their ids',
  );
}

async function readChecked(repo: Repository, id: string): Promise<Manifest> {
  try {
    return await readManifest(repo, id);
  } catch (error) {
    throw runtimeError(
      'E_SNAPSHOT_DAMAGED',
      (error as Error).message,
      'xenkit backup verify names what is damaged',
    );
  }
}

/** Checks what can be checked (snapshot, names, targets); builds the plan. */
export async function buildRestorePlan(
  paths: Paths,
  options: BackupRestoreOptions,
): Promise<{ plan: Plan; outcome: RestoreOutcome }> {
  const repo = openRepository(options.repoDir, options.secret);
  const manifest = await findSnapshot(repo, options.ref);
  const name = options.as ?? manifest.guest;
  assertGuestName(name, options.as ? '--as' : manifest.id);
  const config = parseXlCfg(manifest.cfgText, `${manifest.id}:${manifest.cfgPath}`);
  const isNewIdentity = options.as !== undefined && options.as !== manifest.guest;
  const network = networkFromCfg(config);
  if (isNewIdentity && network.mode === 'static') {
    throw usageError(
      'E_RESTORE_NETWORK',
      `snapshot ${manifest.id}: guest "${manifest.guest}" has the static address ${network.addresses[0]?.address ?? '?'}, a copy may not share it`,
      `restore it under its own name, or restore --as with DHCP guests only (then xenkit clone --ip gives a copy its own address)`,
    );
  }
  if (options.lvm !== undefined && options.dir !== undefined) {
    throw usageError('E_USAGE', 'options --dir and --lvm exclude each other', 'give one of them');
  }
  const targets: RestoreTarget[] = options.lvm
    ? await lvmRestoreTargets(options.lvm, manifest, name)
    : fileRestoreTargets(paths, manifest, name, { dir: options.dir, isNewIdentity });
  const cfgPath = cfgPathOf(paths, name);
  const existing = [cfgPath, ...targets.filter((t) => !t.volume).map((t) => t.host)].filter(isPresent);
  if (existing.length > 0 && !options.force) {
    throw usageError(
      'E_EXISTS',
      `guest "${name}": ${existing.join(', ')} ${existing.length > 1 ? 'exist' : 'exists'} already`,
      `restore under another name with --as NEW, or replace it with --force (never while it runs)`,
    );
  }
  const identity = replacedGuestIdentity(
    paths,
    name,
    cfgPath,
    targets.map((t) => t.host),
  );
  await refuseRunningGuest(identity, paths, 'restore over', options.running);
  const outcome: RestoreOutcome = {
    snapshot: manifest.id,
    source: manifest.guest,
    name,
    cfgPath,
    images: [],
    mac: undefined,
    sshHostKeys: [],
    replaced: existing.length > 0,
    timings: {},
  };
  const diskByTarget = new Map(config.disks.map((d) => [d.target, d]));
  const changes: CloneDiskChange[] = targets.flatMap((t) => {
    const from = diskByTarget.get(t.disk.target);
    return from ? [{ from, target: t.cfgTarget, format: t.volume ? 'raw' : from.format }] : [];
  });
  const steps: PlanStep[] = [
    {
      id: 'restore.lock',
      title: `Lock guest ${name} and the repository; check again that ${name} is not running`,
      actions: [
        {
          kind: 'note',
          text: `take the locks of ${name} and ${repo.dir} (a prune meanwhile would free chunks)`,
        },
      ],
      run: async (ctx) => {
        const lock = await lockRepository(repo);
        ctx.undo.push(`release the lock of ${repo.dir}`, () => lock.release());
        ctx.undo.afterCommit(`release the lock of ${repo.dir}`, () => lock.release());
        await lockGuest(paths.lockDir, name, ctx);
        await refuseRunningGuest(identity, paths, 'restore over', options.running);
      },
    },
    {
      id: 'restore.images',
      title: `Restore the images of snapshot ${manifest.id}`,
      actions: targets.flatMap((t): PlanAction[] =>
        t.volume
          ? describeVolumeRestore(t, t.volume)
          : [
              { kind: 'mkdir', path: path.dirname(t.host), mode: 0o755 },
              { kind: 'write', path: t.temp, mode: 0o600 },
            ],
      ),
      run: (ctx) => timed(outcome, 'images', () => restoreImages(repo, manifest, targets, ctx, outcome)),
    },
  ];
  if (isNewIdentity) {
    steps.push({
      id: 'restore.identity',
      title: `Give ${name} its own identity inside the images`,
      actions: [
        {
          kind: 'note',
          text: 'as xenkit clone does: new MAC, SSH host keys, machine-id, random seed, filesystem UUIDs',
        },
      ],
      run: (ctx) =>
        timed(outcome, 'identity', () => identify(targets, name, network.mode === 'dhcp', ctx, outcome)),
    });
  }
  steps.push({
    id: 'restore.place',
    title: `Put the images and ${cfgPath} in place`,
    actions: [
      ...targets
        .filter((t) => !t.volume)
        .map((t) => ({ kind: 'run' as const, argv: ['mv', t.temp, t.host] })),
      { kind: 'mkdir', path: path.dirname(cfgPath), mode: 0o755 },
      { kind: 'write', path: cfgPath, mode: 0o644 },
    ],
    run: async (ctx) => {
      for (const t of targets) if (!t.volume) await moveIntoPlace(t.temp, t.host, ctx);
      const text = isNewIdentity
        ? renderCloneCfg(manifest.cfgText, config.vifs[0]?.raw, {
            sourceName: manifest.guest,
            name,
            disks: changes,
            mac: outcome.mac ?? '',
            network: { mode: network.mode, addresses: [] },
            note: `Restored from backup ${manifest.id} of ${manifest.guest} by xenkit on ${new Date().toISOString()}.`,
          })
        : rewriteDiskPaths(manifest.cfgText, changes);
      await makeParents(path.dirname(cfgPath), ctx);
      await writeFileAtomically(cfgPath, text, 0o644, ctx);
    },
  });
  return { plan: { subject: `restore ${manifest.id} as ${name}`, steps }, outcome };
}

async function timed(outcome: RestoreOutcome, key: string, fn: () => Promise<void>): Promise<void> {
  const started = performance.now();
  await fn();
  outcome.timings[key] = Math.round(performance.now() - started);
}

/** The cfg text with each disk's path changed (when --dir moved the images); the rest as it was. */
function rewriteDiskPaths(text: string, changes: CloneDiskChange[]): string {
  let out = text;
  for (const change of changes) {
    if (change.target === change.from.target) continue;
    for (const quote of ["'", '"']) {
      const quoted = `${quote}${change.from.raw}${quote}`;
      if (out.includes(quoted)) {
        out = out.split(quoted).join(quoteXlString(cloneDiskSpec(change)));
        break;
      }
    }
  }
  return out;
}

async function restoreImages(
  repo: Repository,
  manifest: Manifest,
  targets: RestoreTarget[],
  ctx: StepContext,
  outcome: RestoreOutcome,
): Promise<void> {
  for (const t of targets) {
    if (t.volume) {
      outcome.images.push(
        await restoreToVolume(t, t.volume, ctx, (target) => restoreChecked(repo, manifest, t, target, ctx)),
      );
      continue;
    }
    await makeParents(path.dirname(t.host), ctx);
    const intent = ctx.undo.expect(`remove image ${t.temp}`, { kind: 'file', path: t.temp });
    // Made 0600 before anything writes into it (the image holds the guest's secrets).
    const handle = await fs.open(t.temp, 'wx', 0o600);
    ctx.undo.push(`remove image ${t.temp}`, () => fs.rm(t.temp, { force: true }), intent);
    intent.made({ kind: 'file', path: t.temp, ...identityOf(await handle.stat()) });
    ctx.reporter.info(`writing ${t.host}`);
    const isRaw = t.disk.format === 'raw';
    let view: RawView | undefined;
    let target = handle;
    try {
      if (!isRaw) {
        // A qcow2 disk comes back a standalone qcow2 (no backing file) written through a raw view
        // of it: only the data chunks become clusters.
        await handle.close();
        await createImage(t.temp, t.disk.format, t.disk.size, { sink: ctx.sink, signal: ctx.signal });
        view = await openRawView(t.temp, t.disk.format, ctx);
        target = await fs.open(view.rawPath, 'r+');
      }
      const { writtenBytes } = await restoreChecked(repo, manifest, t, target, ctx);
      outcome.images.push({ path: t.host, size: t.disk.size, writtenBytes });
    } finally {
      await target.close();
    }
    if (view) await closeRawView(view, ctx);
  }
}

/** Writes the chunks of `t` into `target`; a chunk that does not match its hash is E_RESTORE_DAMAGED. */
function restoreChecked(
  repo: Repository,
  manifest: Manifest,
  t: RestoreTarget,
  target: fs.FileHandle,
  ctx: StepContext,
): Promise<{ writtenBytes: number }> {
  return restoreImage(repo, t.disk, target, manifest.chunkSize, ctx.signal).catch((error: unknown) => {
    if (error instanceof Error && !('code' in error)) {
      throw runtimeError(
        'E_RESTORE_DAMAGED',
        `snapshot ${manifest.id}, disk ${t.disk.target}: ${error.message}`,
        'xenkit backup verify names every damaged chunk; restore an older snapshot',
        error,
      );
    }
    throw error;
  });
}

async function identify(
  targets: RestoreTarget[],
  name: string,
  isDhcp: boolean,
  ctx: StepContext,
  outcome: RestoreOutcome,
): Promise<void> {
  const disks: ClonedDisk[] = targets.map((t) => ({
    source: t.disk.target,
    path: t.temp,
    format: t.format,
    vdev: t.disk.vdev,
    fsType: undefined,
    oldUuid: undefined,
    newUuid: undefined,
    isRoot: false,
  }));
  const result = await identifyClone(
    disks,
    {
      name,
      domain: undefined,
      network: undefined,
      chooseMac: (release) =>
        deriveXenToolsMac({ hostname: name, ips: [], dhcp: isDhcp, dist: release ?? '' }),
    },
    ctx,
    outcome.timings,
  );
  outcome.mac = result.mac;
  outcome.sshHostKeys = result.sshHostKeys;
}

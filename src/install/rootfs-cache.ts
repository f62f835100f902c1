/**
 * The root-tree cache: the first guest of a given release/mirror/package set is bootstrapped as
 * before, its sanitized tree kept as a pristine ext4 image under `<cacheDir>/rootfs/KEY/`, and
 * every later guest with the same key is made from that image in seconds (see
 * rootfs-cache-use.ts). Entries are built under a per-key lock, so concurrent creations share
 * one bootstrap; a corrupt entry is rebuilt, never used.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { Paths } from '../paths.js';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { buildDebootstrapArgv } from '../tools/debootstrap.js';
import { buildMmdebstrapArgv } from '../tools/mmdebstrap.js';
import { debootstrapOptionsFor } from './debootstrap-install.js';
import type { InstallRequest, InstallResult } from './install-request.js';
import { installRootTree } from './install-root-tree.js';
import { mmdebstrapOptionsFor } from './mmdebstrap-install.js';
import { buildPristineImage, checksumImage, pristineMkfsArgv } from './rootfs-cache-image.js';
import {
  computeRootfsKey,
  gatherRootfsKeyFields,
  isCacheableInstall,
  memoizedVersionReader,
  ROOTFS_CACHE_FORMAT,
  type InstallerVersionReader,
  type RootfsKeyFields,
} from './rootfs-cache-key.js';
import {
  IMAGE_FILE,
  isEntry,
  lockEntry,
  makeBuildDir,
  publishEntry,
  readEntry,
  rootfsCacheRoot,
  touchEntry,
  type RootfsEntry,
  type RootfsManifest,
} from './rootfs-cache-store.js';
import { useEntryAsDisk, useEntryAsTree, type CachedDiskSpec } from './rootfs-cache-use.js';
import { releaseTarget } from './target-guard.js';

export { finishCachedDisk, hasCachedDisk, type CachedDiskSpec } from './rootfs-cache-use.js';

/** How a guest is made from an entry: its disk image directly, or its tree copied into staging. */
export type RootfsCacheMode = 'image' | 'tree';

/** Everything installWithRootfsCache needs besides the install request. */
export interface RootfsCacheTarget {
  mode: RootfsCacheMode;
  /** Why this mode, for the plan and the log. */
  reason: string;
  /** `--refresh-cache`: rebuild the entry even when a good one exists. */
  refresh: boolean;
  /** `<cacheDir>/rootfs`. */
  root: string;
  /** Where the per-key build locks live. */
  lockDir: string;
  /** Image mode: the guest disk to make from the entry and mount on the staging directory. */
  disk?: CachedDiskSpec;
  /** `INSTALLER --version` (default: memoized in `<root>/installers.json`). */
  readVersion?: InstallerVersionReader;
}

/** Chooses image or tree mode for a guest, or undefined when the cache is off for it. */
export function chooseRootfsCacheMode(
  spec: GuestSpec,
): { mode: RootfsCacheMode; reason: string } | undefined {
  const use = spec.install.rootfsCache ?? 'off';
  if (use === 'off' || !spec.install.enabled) return undefined;
  if (spec.install.method !== 'mmdebstrap' && spec.install.method !== 'debootstrap') return undefined;
  const { storage, disk } = spec;
  if (storage.kind !== 'file') return { mode: 'tree', reason: 'the disk is a device, not an image file' };
  if (storage.format !== 'raw')
    return { mode: 'tree', reason: `${storage.format} images are converted from a tree` };
  if (disk.fs !== 'ext4')
    return { mode: 'tree', reason: `the cached image is ext4, the guest wants ${disk.fs}` };
  if (!disk.format) return { mode: 'tree', reason: '--dontformat keeps the existing filesystem' };
  if (disk.mkfsCommand) return { mode: 'tree', reason: 'make_fs_ext4 replaces the mkfs command' };
  return { mode: 'image', reason: 'ext4 image file: copied from the cached image, no mkfs' };
}

/** The cache target of a guest (undefined when the cache is off for it). */
export function planRootfsCache(
  spec: GuestSpec,
  paths: Paths,
  disk: Omit<CachedDiskSpec, 'size' | 'allocation' | 'label'> | undefined,
): RootfsCacheTarget | undefined {
  const chosen = chooseRootfsCacheMode(spec);
  if (!chosen) return undefined;
  const image = chosen.mode === 'image' && disk && spec.storage.kind === 'file';
  return {
    ...chosen,
    refresh: spec.install.rootfsCache === 'refresh',
    root: rootfsCacheRoot(paths.cacheDir),
    lockDir: paths.lockDir,
    ...(image && spec.storage.kind === 'file'
      ? {
          disk: {
            ...disk,
            size: spec.disk.size,
            allocation: spec.storage.allocation,
            label: spec.name.slice(0, 12),
          },
        }
      : {}),
  };
}

/** The installer argv of a cache build (what runs on a miss), for `--dry-run`. */
function installerArgv(request: InstallRequest, tree: string): string[] {
  const at = { ...request, target: tree };
  return request.install.method === 'mmdebstrap'
    ? buildMmdebstrapArgv(mmdebstrapOptionsFor(at))
    : buildDebootstrapArgv(debootstrapOptionsFor(at));
}

/** What installWithRootfsCache will do, for `--dry-run` (the key is only known at run time). */
export function describeRootfsCacheInstall(request: InstallRequest, target: RootfsCacheTarget): PlanAction[] {
  const entry = path.join(target.root, 'KEY');
  const tree = path.join(target.root, '.build-KEY', 'tree');
  const actions: PlanAction[] = [
    {
      kind: 'note',
      text: `root-tree cache ${entry} (${target.mode} mode: ${target.reason})${target.refresh ? ', rebuilt (--refresh-cache)' : ''}`,
    },
    {
      kind: 'note',
      text: 'on a miss (or a corrupt entry): bootstrap, sanitize, and store the tree as an ext4 image',
    },
    { kind: 'run', argv: installerArgv(request, tree) },
    { kind: 'run', argv: pristineMkfsArgv(tree, path.join(entry, IMAGE_FILE), 'RANDOM') },
    {
      kind: 'write',
      path: path.join(entry, 'manifest.json'),
      content: '(key fields, sizes, sha256, data CRC)',
    },
  ];
  if (target.mode === 'image' && target.disk) {
    const d = target.disk;
    actions.push(
      {
        kind: 'note',
        text: `copy ${path.join(entry, IMAGE_FILE)} sparsely into ${d.path}, checking its data CRC`,
      },
      { kind: 'run', argv: ['resize2fs', '-f', d.path] },
      { kind: 'run', argv: ['tune2fs', '-U', d.uuid, '-L', d.label, d.path] },
      { kind: 'note', text: `loop-mount ${d.path} on ${request.target}: customized in place, no mkfs` },
    );
  } else {
    actions.push({
      kind: 'note',
      text: `copy the tree from the read-only mounted image into ${request.target}`,
    });
  }
  return actions;
}

/** The install result a guest made from `entry` reports. */
function resultOf(request: InstallRequest, manifest: RootfsManifest, started: number): InstallResult {
  const { tree } = manifest;
  return {
    method: request.install.method,
    packagesInstalled: tree.packagesInstalled,
    treeBytes: tree.treeBytes,
    ...(tree.kernel ? { kernel: tree.kernel } : {}),
    ...(tree.initrd ? { initrd: tree.initrd } : {}),
    sanitized: tree.sanitized,
    durationMs: Date.now() - started,
  };
}

/** Bootstraps the tree of `key` and publishes it as an entry (the caller holds the key's lock). */
async function buildEntry(
  request: InstallRequest,
  target: RootfsCacheTarget,
  fields: RootfsKeyFields,
  key: string,
  ctx: StepContext,
): Promise<RootfsEntry> {
  const started = Date.now();
  const buildDir = await makeBuildDir(target.root, key);
  const tree = path.join(buildDir, 'tree');
  const undo = `remove the unfinished cache entry ${buildDir}`;
  ctx.undo.push(undo, async () => {
    await releaseTarget(tree, ctx.sink);
    await rm(buildDir, { recursive: true, force: true });
  });
  await mkdir(tree, { mode: 0o755 });
  ctx.sink({ type: 'info', message: `root-tree cache: building entry ${key} in ${buildDir}` });
  const installed = await installRootTree({ ...request, target: tree }, ctx);
  ctx.reporter.progress('install.tree', 'storing the root tree in the cache');
  const image = path.join(buildDir, IMAGE_FILE);
  await buildPristineImage(tree, image, { sink: ctx.sink, signal: ctx.signal });
  await rm(tree, { recursive: true, force: true });
  const sums = await checksumImage(image, ctx.signal);
  const handle = await open(image, 'r+');
  await handle.sync();
  await handle.close();
  const manifest: RootfsManifest = {
    format: ROOTFS_CACHE_FORMAT,
    key,
    fields,
    createdAt: new Date().toISOString(),
    buildMs: Date.now() - started,
    image: {
      file: IMAGE_FILE,
      fs: 'ext4',
      bytes: sums.bytes,
      sha256: sums.sha256,
      dataCrc32: sums.dataCrc32,
      chunkBytes: 1024 * 1024,
    },
    tree: {
      packagesInstalled: installed.packagesInstalled,
      treeBytes: installed.treeBytes,
      ...(installed.kernel ? { kernel: installed.kernel } : {}),
      ...(installed.initrd ? { initrd: installed.initrd } : {}),
      sanitized: installed.sanitized,
    },
  };
  const dir = await publishEntry(target.root, buildDir, manifest);
  ctx.undo.release(undo);
  ctx.sink({
    type: 'info',
    message: `root-tree cache: published ${dir} (${sums.bytes} bytes, sha256 ${sums.sha256})`,
  });
  const found = await readEntry(target.root, key);
  if (!isEntry(found))
    throw runtimeError('E_CACHE', `root-tree cache entry ${key}: ${found.reason} right after it was built`);
  return found;
}

/**
 * Returns a usable entry for `key`, building it under the key's lock when there is none (or when
 * `rebuild`). Waiting for the lock means another process is building it: its entry is then used,
 * unless `rebuild` names the very entry that proved corrupt.
 */
async function ensureEntry(
  request: InstallRequest,
  target: RootfsCacheTarget,
  fields: RootfsKeyFields,
  key: string,
  ctx: StepContext,
  rebuild: { always: boolean; unlessNot?: RootfsManifest },
): Promise<RootfsEntry> {
  const lock = await lockEntry(target.lockDir, key, ctx.signal, (holder) =>
    ctx.reporter.progress(
      'install.tree',
      `waiting for xenkit (pid ${holder}), which builds the same root tree`,
    ),
  );
  try {
    if (!rebuild.always) {
      const found = await readEntry(target.root, key);
      const same = (m: RootfsManifest): boolean =>
        m.createdAt === rebuild.unlessNot?.createdAt && m.image.sha256 === rebuild.unlessNot.image.sha256;
      if (isEntry(found) && !(rebuild.unlessNot && same(found.manifest))) return found;
      if (!isEntry(found) && !found.reason.startsWith('no manifest'))
        ctx.reporter.warn(`root-tree cache entry ${key} is unusable (${found.reason}): rebuilding it`);
    }
    return await buildEntry(request, target, fields, key, ctx);
  } finally {
    lock.release();
  }
}

/**
 * Fills the staging directory (`request.target`) from the root-tree cache, building the entry
 * first on a miss. In image mode the guest disk is made from the entry and mounted on the
 * staging directory; `finishCachedDisk` in the storage step unmounts it.
 */
export async function installWithRootfsCache(
  request: InstallRequest,
  target: RootfsCacheTarget,
  ctx: StepContext,
): Promise<InstallResult> {
  const started = Date.now();
  const readVersion =
    target.readVersion ??
    memoizedVersionReader(path.join(target.root, 'installers.json'), { sink: ctx.sink });
  const fields = isCacheableInstall(request) ? await gatherRootfsKeyFields(request, readVersion) : undefined;
  if (!fields) return installRootTree(request, ctx);
  const key = computeRootfsKey(fields);
  let entry: RootfsEntry | undefined;
  if (!target.refresh) {
    const found = await readEntry(target.root, key);
    if (isEntry(found)) entry = found;
  }
  ctx.sink({
    type: 'info',
    message: `root-tree cache: key ${key} ${entry ? 'found' : 'missing'} (${target.mode} mode: ${target.reason})`,
  });
  entry ??= await ensureEntry(request, target, fields, key, ctx, { always: target.refresh });
  for (let attempt = 1; ; attempt++) {
    const disk = target.mode === 'image' ? target.disk : undefined;
    const fits = disk !== undefined && disk.size >= entry.manifest.image.bytes;
    if (disk && !fits) {
      ctx.sink({
        type: 'info',
        message: `root-tree cache: the ${disk.size}-byte disk is smaller than the cached image; copying the tree instead`,
      });
    }
    const outcome = fits
      ? await useEntryAsDisk(entry, disk, request.target, ctx)
      : await useEntryAsTree(entry, request.target, ctx);
    if (outcome === 'done') break;
    if (attempt >= 2) {
      throw runtimeError(
        'E_CACHE_CORRUPT',
        `root-tree cache entry ${key} was rebuilt and is still corrupt`,
        `check the disk under ${target.root}; use --no-cache meanwhile`,
      );
    }
    ctx.reporter.warn(`root-tree cache entry ${key}: data checksum mismatch; rebuilding it`);
    entry = await ensureEntry(request, target, fields, key, ctx, {
      always: false,
      unlessNot: entry.manifest,
    });
  }
  await touchEntry(entry);
  ctx.sink({
    type: 'info',
    message: `root-tree cache: guest made from entry ${key} (built ${entry.manifest.createdAt})`,
  });
  return resultOf(request, entry.manifest, started);
}

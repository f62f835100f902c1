/**
 * The root-tree cache: the first guest of a given release/mirror/package set is bootstrapped as
 * before, its sanitized tree kept as a pristine ext4 image under `<cacheDir>/rootfs/KEY/`, and
 * every later guest with the same key is made from that image in seconds (see
 * rootfs-cache-use.ts). Entries are built under a per-key lock, so concurrent creations share
 * one bootstrap; a corrupt entry is rebuilt, never used.
 */
import { mkdir, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { StepContext } from '../plan/plan.js';
import type { InstallRequest, InstallResult } from './install-request.js';
import { installRootTree } from './install-root-tree.js';
import { buildPristineImage, checksumImage } from './rootfs-cache-image.js';
import {
  computeRootfsKey,
  gatherRootfsKeyFields,
  isCacheableInstall,
  memoizedVersionReader,
  ROOTFS_CACHE_FORMAT,
  type RootfsKeyFields,
} from './rootfs-cache-key.js';
import {
  IMAGE_FILE,
  isEntry,
  lockEntry,
  makeBuildDir,
  publishEntry,
  readEntry,
  touchEntry,
  type RootfsEntry,
  type RootfsManifest,
} from './rootfs-cache-store.js';
import type { RootfsCacheTarget } from './rootfs-cache-plan.js';
import { useEntryAsDisk, useEntryAsTree } from './rootfs-cache-use.js';
import { removeTree } from './remove-tree.js';
import { releaseTarget } from './target-guard.js';

export { finishCachedDisk, hasCachedDisk, type CachedDiskSpec } from './rootfs-cache-use.js';
export {
  chooseRootfsCacheMode,
  describeRootfsCacheInstall,
  planRootfsCache,
  type RootfsCacheMode,
  type RootfsCacheTarget,
} from './rootfs-cache-plan.js';
import { identityOf } from '../plan/run-journal.js';

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
  const made = await stat(buildDir);
  ctx.undo.push(
    undo,
    async () => {
      await releaseTarget(tree, ctx.sink);
      await removeTree(buildDir, { sink: ctx.sink });
    },
    { kind: 'tree', path: buildDir, ...identityOf(made) },
  );
  await mkdir(tree, { mode: 0o755 });
  ctx.sink({ type: 'info', message: `root-tree cache: building entry ${key} in ${buildDir}` });
  const installed = await installRootTree({ ...request, target: tree }, ctx);
  ctx.reporter.progress('install.tree', 'storing the root tree in the cache');
  const image = path.join(buildDir, IMAGE_FILE);
  await buildPristineImage(tree, image, { sink: ctx.sink, signal: ctx.signal });
  await removeTree(tree, { sink: ctx.sink, signal: ctx.signal });
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

/** A cacheable request's key fields and key (undefined for copy, tar, `--install=0`). */
export async function keyOfRequest(
  request: InstallRequest,
  target: Pick<RootfsCacheTarget, 'root' | 'readVersion'>,
  ctx: Pick<StepContext, 'sink'>,
): Promise<{ fields: RootfsKeyFields; key: string } | undefined> {
  const readVersion =
    target.readVersion ??
    memoizedVersionReader(path.join(target.root, 'installers.json'), { sink: ctx.sink });
  const fields = isCacheableInstall(request) ? await gatherRootfsKeyFields(request, readVersion) : undefined;
  return fields ? { fields, key: computeRootfsKey(fields) } : undefined;
}

/**
 * The usable entry for a request: found, or built (bootstrap, sanitize, image, publish) under the
 * key's lock; a second caller for the same key waits for the first one's build and uses it.
 */
export async function obtainRootfsEntry(
  request: InstallRequest,
  target: RootfsCacheTarget,
  keyed: { fields: RootfsKeyFields; key: string },
  ctx: StepContext,
): Promise<RootfsEntry> {
  const { fields, key } = keyed;
  if (!target.refresh) {
    const found = await readEntry(target.root, key);
    if (isEntry(found)) {
      ctx.sink({
        type: 'info',
        message: `root-tree cache: entry ${key} found (${target.mode} mode: ${target.reason})`,
      });
      return found;
    }
  }
  ctx.sink({
    type: 'info',
    message: `root-tree cache: entry ${key} missing or refreshed (${target.mode} mode)`,
  });
  return ensureEntry(request, target, fields, key, ctx, { always: target.refresh });
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
  const keyed = await keyOfRequest(request, target, ctx);
  if (!keyed) return installRootTree(request, ctx);
  const { fields, key } = keyed;
  let entry = await obtainRootfsEntry(request, target, keyed, ctx);
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

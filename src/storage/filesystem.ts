/**
 * Filesystems on image files or devices, filled from a staging tree: mount-free where mkfs can
 * populate faithfully (mke2fs -d, mkfs.btrfs --rootdir), through a loop mount and `cp` otherwise.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError, usageError, type XenkitError } from '../errors.js';
import type { GuestIds } from '../model/guest-ids.js';
import type { FsType, GuestSpec, VolumeSpec } from '../model/guest-spec.js';
import type { PlanAction, StepScope } from '../plan/plan.js';
import { probeBlock } from '../tools/blkid.js';
import {
  compareVersions,
  E2FSPROGS_POPULATE_MIN,
  isExtFs,
  makeFs,
  mkfsArgv,
  readE2fsprogsVersion,
  type Version,
} from '../tools/mkfs.js';
import { humanSize, isNoSpaceError, noSpaceError, readFreeSpace } from './free-space.js';
import { checkFsParameters } from './fs-options.js';
import { describePopulateViaMount, populateViaMount } from './populate.js';
import { describeSetUuid, fixRootDirectory, setFilesystemUuid } from './fs-tune.js';
import { hasDefaultRoot, scanTree, type TreeFacts } from './tree-scan.js';
import { volumeTreeDir } from './tree-split.js';

/** How the tree gets into the filesystem. */
export type PopulateStrategy =
  /** mkfs fills the filesystem itself (`mke2fs -d`, `mkfs.btrfs --rootdir`): no mount. */
  | 'mkfs'
  /** Loop-mount (files) or mount (devices), then `cp --archive`. */
  | 'mount-copy'
  /** Nothing to copy. */
  | 'none';

export interface MakeFilesystemOptions {
  /** Image file (its work path) or block device. */
  target: string;
  fs: FsType;
  /** Set at mkfs time so fstab can be written before; mkfs picks one when absent. */
  uuid?: string | undefined;
  label?: string | undefined;
  /** The staging root tree to put into the new filesystem. */
  populateFrom?: string | undefined;
  /** `make_fs_<fs>` from xen-tools.conf, split into argv; the device is appended. */
  mkfsCommand?: string[] | undefined;
  /** Size of the image or device, bytes. */
  sizeBytes: number;
  /** `--dontformat`: keep the existing filesystem (the tree is then copied in through a mount). */
  format?: boolean | undefined;
  /** ext only: the block size mkfs uses (default: mke2fs' choice by size). */
  blockSize?: number | undefined;
}

/**
 * The guest's root filesystem as the spec describes it (type, new UUID, a label from the name,
 * the staging tree to fill it from, mkfs command and size), for every kind of disk; `target` is
 * added where the disk is known.
 */
export function rootFilesystemOptions(
  spec: GuestSpec,
  ids: GuestIds,
  staging: string,
): Omit<MakeFilesystemOptions, 'target'> {
  return {
    fs: spec.disk.fs,
    uuid: ids.rootUuid,
    label: spec.name.slice(0, 12),
    populateFrom: staging,
    mkfsCommand: spec.disk.mkfsCommand,
    sizeBytes: spec.disk.size,
    format: spec.disk.format,
  };
}

/** A `--partitions` volume's filesystem: its type, new UUID, section name as label, its split-off subtree. */
export function volumeFilesystemOptions(
  volume: VolumeSpec,
  ids: GuestIds,
  staging: string,
): Omit<MakeFilesystemOptions, 'target'> {
  return {
    fs: volume.fs,
    uuid: ids.volumeUuids?.[volume.name],
    label: volume.name.slice(0, 12),
    populateFrom: volumeTreeDir(staging, volume.name),
    mkfsCommand: volume.mkfsCommand,
    sizeBytes: volume.size,
    format: true,
  };
}

/** What was made. */
export interface FilesystemResult {
  /** The UUID read back from the filesystem. */
  uuid: string;
  /** The type blkid sees (`ext4`, ...). */
  type: string;
  strategy: PopulateStrategy;
  /** Why this strategy, for the log. */
  reason: string;
}

/** Host and tree facts the strategy depends on; unknown at dry-run time. */
export interface StrategyFacts {
  e2fsprogs?: Version | undefined;
  tree?: TreeFacts | undefined;
}

/** Picks how `options.populateFrom` gets into the filesystem, and says why. */
export function choosePopulateStrategy(
  options: MakeFilesystemOptions,
  facts: StrategyFacts = {},
): { strategy: PopulateStrategy; reason: string } {
  const { fs } = options;
  if (!options.populateFrom) return { strategy: 'none', reason: 'no tree to copy' };
  if (options.format === false)
    return { strategy: 'mount-copy', reason: 'the filesystem exists already (--dontformat)' };
  if (options.mkfsCommand)
    return { strategy: 'mount-copy', reason: `make_fs_${fs} replaces the mkfs command` };
  if (isExtFs(fs)) {
    if (facts.e2fsprogs && compareVersions(facts.e2fsprogs, E2FSPROGS_POPULATE_MIN) < 0) {
      return { strategy: 'mount-copy', reason: `e2fsprogs ${facts.e2fsprogs.join('.')} has no mke2fs -d` };
    }
    return {
      strategy: 'mkfs',
      reason: 'mke2fs -d copies owners, modes, xattrs, hard links, devices and holes',
    };
  }
  if (fs === 'btrfs') {
    if (facts.tree?.hasDeviceNodes) {
      return { strategy: 'mount-copy', reason: 'mkfs.btrfs --rootdir writes device nodes with rdev 0:0' };
    }
    if (facts.tree?.crossesFilesystems) {
      return {
        strategy: 'mount-copy',
        reason: 'the tree spans filesystems and --rootdir reuses inode numbers',
      };
    }
    if (facts.tree && !hasDefaultRoot(facts.tree)) {
      return {
        strategy: 'mount-copy',
        reason: 'mkfs.btrfs --rootdir does not copy the top directory owner/mode',
      };
    }
    return { strategy: 'mkfs', reason: 'mkfs.btrfs --rootdir copies owners, modes, xattrs and hard links' };
  }
  return { strategy: 'mount-copy', reason: `mkfs.${fs} cannot copy a directory with xattrs and hard links` };
}

/** The dry-run view of `makeFilesystem` (same argv; the btrfs choice may change once the tree exists). */
export function describeMakeFilesystem(
  options: MakeFilesystemOptions,
  facts: StrategyFacts = {},
): PlanAction[] {
  const { strategy, reason } = choosePopulateStrategy(options, facts);
  const actions: PlanAction[] = [];
  if (options.format !== false) {
    const rootDir = strategy === 'mkfs' ? options.populateFrom : undefined;
    const uuid = options.mkfsCommand ? undefined : options.uuid;
    actions.push({
      kind: 'run',
      argv: mkfsArgv({ ...options, uuid, rootDir, device: options.target, command: options.mkfsCommand }),
    });
    if (options.mkfsCommand && options.uuid)
      actions.push(...describeSetUuid(options.fs, options.target, options.uuid));
  }
  if (strategy !== 'none') actions.push({ kind: 'note', text: `populate by ${strategy}: ${reason}` });
  if (options.fs === 'btrfs' && strategy === 'mkfs' && !facts.tree) {
    actions.push({
      kind: 'note',
      text: 'if the tree holds device nodes, btrfs is populated through a loop mount instead',
    });
  }
  if (strategy === 'mount-copy' && options.populateFrom) {
    const isFile = !options.target.startsWith('/dev/');
    actions.push(
      ...describePopulateViaMount(
        { target: options.target, tree: options.populateFrom, fsType: options.fs },
        isFile,
      ),
    );
  }
  return actions;
}

/**
 * Makes the filesystem (unless `format` is false) and fills it from `populateFrom`, then reads
 * the UUID back with blkid and checks it is the one asked for.
 */
export async function makeFilesystem(
  options: MakeFilesystemOptions,
  ctx: StepScope,
): Promise<FilesystemResult> {
  const { target, fs } = options;
  checkFsParameters({
    target,
    fs,
    uuid: options.uuid,
    label: options.label,
    sizeBytes: options.sizeBytes,
  }).throwIfAny();
  const isFile = (await stat(target)).isFile();
  const tree = options.populateFrom ? await scanTree(options.populateFrom) : undefined;
  if (tree) await checkTreeFits(options, tree, isFile);
  const e2fsprogs =
    isExtFs(fs) && !options.mkfsCommand ? await readE2fsprogsVersion({ sink: ctx.sink }) : undefined;
  const { strategy, reason } = choosePopulateStrategy(options, { e2fsprogs, tree });
  ctx.sink({ type: 'info', message: `${target}: ${fs}, populate by ${strategy} (${reason})` });
  const exec = { sink: ctx.sink, signal: ctx.signal };

  if (options.format !== false) {
    const rootDir = strategy === 'mkfs' ? options.populateFrom : undefined;
    const uuid = options.mkfsCommand ? undefined : options.uuid;
    try {
      await makeFs(
        {
          fs,
          device: target,
          uuid,
          label: options.label,
          rootDir,
          command: options.mkfsCommand,
          blockSize: options.blockSize,
        },
        exec,
      );
    } catch (error) {
      throw await explainMkfsFailure(error, options, tree);
    }
    if (options.mkfsCommand && options.uuid) await setFilesystemUuid(fs, target, options.uuid, exec);
    if (strategy === 'mkfs' && isExtFs(fs) && tree && !hasDefaultRoot(tree))
      await fixRootDirectory(target, tree.root, exec);
  }
  if (strategy === 'mount-copy' && options.populateFrom) {
    try {
      await populateViaMount({ target, tree: options.populateFrom, fsType: fs }, ctx);
    } catch (error) {
      throw await explainMkfsFailure(error, options, tree);
    }
  }
  const found = await probeBlock(target, { sink: ctx.sink });
  return { ...verifyIdentity(options, found), strategy, reason };
}

/** `--dontformat`: copies `tree` into the filesystem already on `target`; returns what is there. */
export async function populateFilesystem(
  options: Omit<MakeFilesystemOptions, 'format'>,
  ctx: StepScope,
): Promise<FilesystemResult> {
  return makeFilesystem({ ...options, format: false }, ctx);
}

function verifyIdentity(
  options: MakeFilesystemOptions,
  found: { type: string | undefined; uuid: string | undefined } | undefined,
): { uuid: string; type: string } {
  const { target, fs } = options;
  const sameFamily = (t: string | undefined): boolean =>
    t === fs || (isExtFs(fs) && /^ext[234]$/.test(t ?? ''));
  const typeOk =
    options.format === false || options.mkfsCommand ? sameFamily(found?.type) : found?.type === fs;
  if (!found?.uuid || !found.type || !typeOk) {
    throw runtimeError(
      'E_FS_VERIFY',
      `${target}: expected a ${fs} filesystem, blkid found ${found?.type ?? 'none'}`,
      options.format === false
        ? `format it first, or drop --dontformat`
        : `check make_fs_${fs} in xen-tools.conf`,
    );
  }
  if (options.uuid && options.format !== false && found.uuid.toLowerCase() !== options.uuid.toLowerCase()) {
    throw runtimeError(
      'E_FS_VERIFY',
      `${target}: UUID is ${found.uuid}, expected ${options.uuid}`,
      'report this as a bug',
    );
  }
  return { uuid: found.uuid, type: found.type };
}

async function checkTreeFits(
  options: MakeFilesystemOptions,
  tree: TreeFacts,
  isFile: boolean,
): Promise<void> {
  if (tree.allocatedBytes > options.sizeBytes) {
    throw usageError(
      'E_IMAGE_TOO_SMALL',
      `${options.target}: the tree ${options.populateFrom} takes ${humanSize(tree.allocatedBytes)}, more than the ${humanSize(options.sizeBytes)} image`,
      'increase --size',
    );
  }
  // A sparse image grows by at least the tree's size while it is filled.
  if (isFile) {
    const free = await readFreeSpace(path.dirname(options.target));
    if (free < tree.allocatedBytes) {
      throw runtimeError(
        'E_NO_SPACE',
        `${path.dirname(options.target)}: ${humanSize(tree.allocatedBytes)} needed for the tree but only ${humanSize(free)} free`,
        'free some space or choose another --dir',
      );
    }
  }
}

/** Turns "no space" failures into E_NO_SPACE (the host is full) or E_IMAGE_TOO_SMALL (the image is). */
async function explainMkfsFailure(
  error: unknown,
  options: MakeFilesystemOptions,
  tree: TreeFacts | undefined,
): Promise<unknown> {
  const text = `${(error as XenkitError).message ?? ''}\n${(error as XenkitError).details ?? ''}`;
  const imageFull = /Could not allocate block|too small|No space left on device/i.test(text);
  if (!imageFull && !isNoSpaceError(error)) return error;
  const hostFree = await readFreeSpace(path.dirname(options.target)).catch(() => Infinity);
  if (hostFree < 4 * 1024 ** 2) return noSpaceError(options.target, error);
  return runtimeError(
    'E_IMAGE_TOO_SMALL',
    `${options.target}: the tree${tree ? ` (${humanSize(tree.allocatedBytes)})` : ''} does not fit in ${humanSize(options.sizeBytes)} of ${options.fs}`,
    'increase --size',
    error,
  );
}

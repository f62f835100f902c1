/**
 * The pure half of the root-tree cache: whether a guest uses it and how (image or tree mode), and
 * what it will do, for the plan and `--dry-run`.
 */
import path from 'node:path';
import type { GuestSpec } from '../model/guest-spec.js';
import type { Paths } from '../paths.js';
import type { PlanAction } from '../plan/plan.js';
import { buildDebootstrapArgv } from '../tools/debootstrap.js';
import { buildMmdebstrapArgv } from '../tools/mmdebstrap.js';
import { debootstrapOptionsFor } from './debootstrap-install.js';
import type { InstallRequest } from './install-request.js';
import { mmdebstrapOptionsFor } from './mmdebstrap-install.js';
import { pristineMkfsArgv } from './rootfs-cache-image.js';
import type { InstallerVersionReader } from './rootfs-cache-key.js';
import { IMAGE_FILE, rootfsCacheRoot } from './rootfs-cache-store.js';
import type { CachedDiskSpec } from './rootfs-cache-use.js';

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
  if (spec.boot.type === 'hvm')
    return {
      mode: 'tree',
      reason: 'an HVM disk has a partition table and a boot loader in front of the filesystem',
    };
  if (spec.volumes?.length)
    return { mode: 'tree', reason: 'the partition layout splits the tree over several filesystems' };
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

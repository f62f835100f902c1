/**
 * The containers resize-image grows, checked before anything changes: each image file (raw or
 * qcow2) or logical volume exists and is not open, its new size is larger (grow only), the root
 * disk holds a filesystem xenkit can grow and a swap its signature, and none is the base of
 * linked clones.
 */
import fs from 'node:fs';
import { runtimeError, usageError } from '../errors.js';
import type { Paths } from '../paths.js';
import { humanSize } from '../storage/free-space.js';
import { assertNotOpen } from '../storage/lvm.js';
import { parseVolumePath } from '../storage/lvm-guest.js';
import { probeBlock, type BlockIdentity } from '../tools/blkid.js';
import { listVolumes } from '../tools/lvm.js';
import { readImageInfo } from '../tools/qemu-img.js';
import { cfgPathOf, isPresent } from './guest-files.js';
import { isQcow2File, readBaseMarks } from './linked-base.js';
import { GROWABLE_FS, type Container } from './resize-grow.js';

/** One container to grow. */
export interface ResizeTarget {
  role: 'disk' | 'swap';
  /** A swap's section name (`swap`, or a layout's). */
  name?: string | undefined;
  container: Container;
  newSizeBytes: number;
  /** What blkid found (undefined for qcow2: read once the image is open). */
  identity: BlockIdentity | undefined;
}

/** What holds `file`: its kind, format and current size. */
async function inspectContainer(file: string, what: string): Promise<Container> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    throw runtimeError(
      'E_NO_IMAGE',
      `${what} ${file} does not exist`,
      'check the name, --dir and --lvm',
      error,
    );
  }
  if (stat.isFile()) {
    if (!isQcow2File(file)) return { kind: 'file', path: file, format: 'raw', sizeBytes: stat.size };
    return { kind: 'file', path: file, format: 'qcow2', sizeBytes: (await readImageInfo(file)).virtualSize };
  }
  const ref = parseVolumePath(file);
  const lv = ref ? (await listVolumes(ref.vg).catch(() => [])).find((v) => v.name === ref.name) : undefined;
  if (!ref || !lv) {
    throw usageError(
      'E_RESIZE_DEVICE',
      `${what} ${file} is a device, not an image file or logical volume`,
      'grow the partition or device by hand, then the filesystem (resize2fs, xfs_growfs)',
    );
  }
  assertNotOpen(lv);
  return { kind: 'volume', path: file, vg: lv.vg, lv: lv.name, sizeBytes: lv.sizeBytes };
}

/** Checks one requested size against what is there; reads the filesystem or swap signature. */
export async function inspectTarget(
  role: 'disk' | 'swap',
  file: string | undefined,
  size: number | { add: number },
  name: string,
  swapName?: string,
): Promise<ResizeTarget> {
  if (!file) {
    throw runtimeError(
      'E_NO_IMAGE',
      `guest "${name}" has no ${role === 'disk' ? 'root disk' : 'swap'} to resize`,
      role === 'swap' ? 'a guest made with --noswap has no swap' : 'check the cfg',
    );
  }
  const what =
    role === 'disk' ? 'the disk' : swapName && swapName !== 'swap' ? `the swap "${swapName}"` : 'the swap';
  const container = await inspectContainer(file, what);
  const sizeBytes = typeof size === 'number' ? size : container.sizeBytes + size.add;
  if (sizeBytes <= container.sizeBytes) {
    throw usageError(
      'E_RESIZE_SHRINK',
      `guest "${name}": new ${role === 'swap' && swapName && swapName !== 'swap' ? `size of swap "${swapName}"` : `${role} size`} ${humanSize(sizeBytes)} is not larger than the current ${humanSize(container.sizeBytes)} of ${file}`,
      'resize-image only grows (shrinking a filesystem offline risks the data); give a larger size',
    );
  }
  const isRaw = container.kind === 'volume' || container.format === 'raw';
  const identity = isRaw ? await probeBlock(file) : undefined;
  if (isRaw && role === 'disk' && !GROWABLE_FS.some((f) => f === identity?.type)) {
    throw runtimeError(
      'E_RESIZE_FS',
      `${file} holds ${identity?.type ?? 'no filesystem'}, which xenkit cannot grow`,
      `xenkit grows ${GROWABLE_FS.join(', ')}`,
    );
  }
  if (role === 'swap' && identity?.type !== 'swap') {
    throw runtimeError(
      'E_RESIZE_FS',
      `${file} holds no swap signature`,
      'check that it is the swap of the guest',
    );
  }
  // Whole 512-byte sectors (LVM rounds up further, to extents).
  return {
    role,
    ...(role === 'swap' ? { name: swapName ?? 'swap' } : {}),
    container,
    newSizeBytes: Math.ceil(sizeBytes / 512) * 512,
    identity,
  };
}

/** A base of linked clones must never change: its clones read its blocks. */
export function refuseBaseImages(paths: Paths, name: string, targets: readonly ResizeTarget[]): void {
  const cfgPath = cfgPathOf(paths, name);
  const marks = isPresent(cfgPath) ? readBaseMarks(fs.readFileSync(cfgPath, 'utf8')) : [];
  const base = targets.find((t) => marks.some((m) => m.image === t.container.path));
  if (base) {
    throw runtimeError(
      'E_IS_BASE',
      `guest "${name}": ${base.container.path} backs linked clones and must not change`,
      'resize the clones instead, or delete them first (xenkit list-images shows them)',
    );
  }
}

/**
 * `xenkit resize-image NAME --size SIZE [--swap SIZE]`: grows a stopped guest's root disk and its
 * filesystem, and its swap, whether they are image files (raw: sparse growth; qcow2: qemu-img
 * resize) or logical volumes (lvextend). Grow only: no filesystem xenkit makes can shrink safely
 * offline (xfs cannot shrink at all). A failure before a filesystem has grown shrinks its
 * container back; once it has grown, the larger disk stays (it is whole and consistent).
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import type { FsType } from '../model/guest-spec.js';
import { underRoot, type Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanStep } from '../plan/plan.js';
import { humanSize } from '../storage/free-space.js';
import { assertNotOpen, lvmVolumeNames, lvmVolumePath } from '../storage/lvm.js';
import { parseVolumePath } from '../storage/lvm-guest.js';
import { describeMakeSwap, makeSwap } from '../storage/swap.js';
import { probeBlock, type BlockIdentity } from '../tools/blkid.js';
import { listVolumes } from '../tools/lvm.js';
import { readImageInfo } from '../tools/qemu-img.js';
import { assertGuestName } from '../model/guest-name.js';
import { cfgPathOf, isPresent, readGuest } from './guest-files.js';
import { isQcow2File, readBaseMarks } from './linked-base.js';
import {
  describeGrowContainer,
  describeGrowFs,
  GROWABLE_FS,
  growContainer,
  growFilesystem,
  growUndoDescription,
  type Container,
} from './resize-grow.js';
import { readGuestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';

export interface ResizeOptions {
  /** New size of the root disk, bytes (undefined: leave it). */
  diskSize: number | undefined;
  /** Bytes to add to the root disk (xen-resize-guest's `--add`), instead of a new size. */
  diskAdd?: number | undefined;
  /** New size of the swap, bytes (undefined: leave it). */
  swapSize: number | undefined;
  /** `--dir`: the images are DIR/domains/NAME/disk.img and swap.img (default: the cfg's disks). */
  dir?: string | undefined;
  /** `--lvm VG`: the volumes are /dev/VG/NAME-disk and NAME-swap. */
  lvm?: string | undefined;
  running?: RunningCheckOptions;
}

/** One container to grow. */
export interface ResizeTarget {
  role: 'disk' | 'swap';
  container: Container;
  newSizeBytes: number;
  /** What blkid found (undefined for qcow2: read once the image is open). */
  identity: BlockIdentity | undefined;
}

/** What resizing found and did. */
export interface ResizeOutcome {
  name: string;
  targets: {
    role: string;
    path: string;
    oldSizeBytes: number;
    newSizeBytes: number;
    fs: string | undefined;
  }[];
}

/** The disk and swap of `name`, as the options or the cfg say. */
function locate(paths: Paths, name: string, options: ResizeOptions): { disk?: string; swap?: string } {
  if (options.lvm) {
    const names = lvmVolumeNames(name);
    return { disk: lvmVolumePath(options.lvm, names.disk), swap: lvmVolumePath(options.lvm, names.swap) };
  }
  if (options.dir) {
    const dir = path.join(underRoot(paths, options.dir), 'domains', name);
    return { disk: path.join(dir, 'disk.img'), swap: path.join(dir, 'swap.img') };
  }
  if (!isPresent(cfgPathOf(paths, name))) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": no domain config ${cfgPathOf(paths, name)}`,
      'give --dir=DIR if its images are in DIR/domains/NAME, --lvm=VG if it is on volumes',
    );
  }
  // A volume is a host device path: it is not moved under --root.
  const hostPaths = readGuest(paths, name).disks.map((d) =>
    parseVolumePath(d.config.target) ? d.config.target : d.path,
  );
  const isSwap = (p: string): boolean => path.basename(p) === 'swap.img' || p.endsWith(`/${name}-swap`);
  return { disk: hostPaths.find((p) => !isSwap(p)), swap: hostPaths.find(isSwap) };
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
async function inspectTarget(
  role: 'disk' | 'swap',
  file: string | undefined,
  size: number | { add: number },
  name: string,
): Promise<ResizeTarget> {
  if (!file) {
    throw runtimeError(
      'E_NO_IMAGE',
      `guest "${name}" has no ${role === 'disk' ? 'root disk' : 'swap'} to resize`,
      role === 'swap' ? 'a guest made with --noswap has no swap' : 'check the cfg',
    );
  }
  const container = await inspectContainer(file, role === 'disk' ? 'the disk' : 'the swap');
  const sizeBytes = typeof size === 'number' ? size : container.sizeBytes + size.add;
  if (sizeBytes <= container.sizeBytes) {
    throw usageError(
      'E_RESIZE_SHRINK',
      `guest "${name}": new ${role} size ${humanSize(sizeBytes)} is not larger than the current ${humanSize(container.sizeBytes)} of ${file}`,
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
  return { role, container, newSizeBytes: Math.ceil(sizeBytes / 512) * 512, identity };
}

/** Checks the guest and builds the plan that grows it. */
export async function buildResizePlan(
  paths: Paths,
  rawName: string,
  options: ResizeOptions,
): Promise<{ plan: Plan; outcome: ResizeOutcome }> {
  const name = assertGuestName(rawName, 'command line');
  const disk = options.diskSize ?? (options.diskAdd === undefined ? undefined : { add: options.diskAdd });
  if (disk === undefined && options.swapSize === undefined) {
    throw usageError('E_USAGE', `guest "${name}": nothing to resize`, 'give --size=SIZE and/or --swap=SIZE');
  }
  if (options.diskSize !== undefined && options.diskAdd !== undefined) {
    throw usageError('E_USAGE', 'a new disk size and a size to add exclude each other', 'give one of them');
  }
  const found = locate(paths, name, options);
  const identity = readGuestIdentity(
    paths,
    name,
    [found.disk, found.swap].filter((p) => p !== undefined),
  );
  await refuseRunningGuest(identity, paths, 'resize', options.running);
  const targets: ResizeTarget[] = [];
  if (disk !== undefined) targets.push(await inspectTarget('disk', found.disk, disk, name));
  if (options.swapSize !== undefined)
    targets.push(await inspectTarget('swap', found.swap, options.swapSize, name));
  refuseBaseImages(paths, name, targets);
  const outcome: ResizeOutcome = {
    name,
    targets: targets.map((t) => ({
      role: t.role,
      path: t.container.path,
      oldSizeBytes: t.container.sizeBytes,
      newSizeBytes: t.newSizeBytes,
      fs: t.identity?.type,
    })),
  };
  const steps: PlanStep[] = [
    {
      id: 'resize.lock',
      title: `Lock guest ${name} and check that it is stopped`,
      actions: [{ kind: 'note', text: `take the lock of guest ${name}; check again that it is stopped` }],
      run: async (ctx) => {
        await lockGuest(paths.lockDir, name, ctx);
        await refuseRunningGuest(identity, paths, 'resize', options.running);
      },
    },
    ...targets.map((t, i) => resizeStep(t, outcome.targets[i]!)),
  ];
  return { plan: { subject: `resize ${name}`, steps }, outcome };
}

function resizeStep(target: ResizeTarget, report: ResizeOutcome['targets'][number]): PlanStep {
  const { container, newSizeBytes, identity } = target;
  const grow = `${humanSize(container.sizeBytes)} to ${humanSize(newSizeBytes)}`;
  if (target.role === 'swap') {
    const swap = { target: container.path, uuid: identity?.uuid, label: identity?.label };
    return {
      id: 'resize.swap',
      title: `Grow the swap ${container.path} from ${grow}`,
      actions: [describeGrowContainer(container, newSizeBytes), ...describeMakeSwap(swap)],
      run: async (ctx) => {
        await growContainer(container, newSizeBytes, ctx);
        // Same UUID and label: the guest's fstab finds its swap by them.
        await makeSwap(swap, ctx);
        ctx.undo.release(growUndoDescription(container));
        report.newSizeBytes = await sizeOf(container, newSizeBytes);
      },
    };
  }
  return {
    id: 'resize.disk',
    title: `Grow the disk ${container.path} and its filesystem from ${grow}`,
    actions: [
      describeGrowContainer(container, newSizeBytes),
      ...describeGrowFs(container, identity?.type as FsType | undefined),
    ],
    run: async (ctx) => {
      await growContainer(container, newSizeBytes, ctx);
      // Killed while resize2fs or xfs_growfs runs, the filesystem may be half grown: a crash
      // recovery must then leave the container as large as it is.
      ctx.undo.unjournal(growUndoDescription(container));
      report.fs = await growFilesystem(container, ctx);
      // The filesystem fills the larger container now: shrinking it back would cut it.
      ctx.undo.release(growUndoDescription(container));
      report.newSizeBytes = await sizeOf(container, newSizeBytes);
    },
  };
}

/** The size after growing (LVM rounds up to whole extents). */
async function sizeOf(container: Container, fallback: number): Promise<number> {
  if (container.kind !== 'volume') return fallback;
  const lv = (await listVolumes(container.vg).catch(() => [])).find((v) => v.name === container.lv);
  return lv?.sizeBytes ?? fallback;
}

/** A base of linked clones must never change: its clones read its blocks. */
function refuseBaseImages(paths: Paths, name: string, targets: readonly ResizeTarget[]): void {
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

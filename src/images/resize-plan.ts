/**
 * `xenkit resize-image NAME --size SIZE [--swap SIZE] [--swap-of SECTION=SIZE]...`: grows a stopped
 * guest's root disk and its filesystem, and its swaps (a `--partitions` layout may make several,
 * each named after its section; each keeps its UUID and label), whether they are image files (raw: sparse growth; qcow2: qemu-img
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
  /** New size of the (first) swap, bytes (undefined: leave it). */
  swapSize: number | undefined;
  /** New sizes of swaps by section name (`--swap-of NAME=SIZE`: a `--partitions` layout's others). */
  swapSizesOf?: readonly { name: string; size: number }[] | undefined;
  /** `--dir`: the images are DIR/domains/NAME/disk.img and swap.img (default: the cfg's disks). */
  dir?: string | undefined;
  /** `--lvm VG`: the volumes are /dev/VG/NAME-disk and NAME-swap. */
  lvm?: string | undefined;
  running?: RunningCheckOptions;
}

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

/** What resizing found and did. */
export interface ResizeOutcome {
  name: string;
  targets: {
    role: string;
    /** A swap's section name. */
    name?: string;
    path: string;
    oldSizeBytes: number;
    newSizeBytes: number;
    fs: string | undefined;
  }[];
}

/** One swap of a guest: its section name (`swap`, or a `--partitions` layout's) and where it is. */
export interface GuestSwapRef {
  name: string;
  path: string;
}

/** One volume a guest may have, before it is known to be a swap. */
interface Candidate {
  name: string;
  path: string;
  /** Partition number from the cfg's vdev (xvda3: 3), when known. */
  partition: number | undefined;
}

/** Where the guest's volumes are: the root disk, and the candidates for its swaps. */
interface Located {
  disk: string | undefined;
  candidates: () => Promise<Candidate[]>;
}

/** The section name of an image file (`swap2.img`) or volume (`/dev/vg0/web1-swap2`). */
function sectionOf(name: string, file: string): string {
  const ref = parseVolumePath(file);
  if (ref) return ref.name.startsWith(`${name}-`) ? ref.name.slice(name.length + 1) : ref.name;
  return path.basename(file).replace(/\.img$/, '');
}

/** The root disk of `name` and its possible swaps, as the options or the cfg say. */
function locate(paths: Paths, name: string, options: ResizeOptions): Located {
  if (options.lvm) {
    const vg = options.lvm;
    return {
      disk: lvmVolumePath(vg, lvmVolumeNames(name).disk),
      candidates: async () =>
        (await listVolumes(vg).catch(() => []))
          .filter((v) => v.name.startsWith(`${name}-`))
          .map((v) => ({
            name: v.name.slice(name.length + 1),
            path: lvmVolumePath(vg, v.name),
            partition: undefined,
          })),
    };
  }
  if (options.dir) {
    const dir = path.join(underRoot(paths, options.dir), 'domains', name);
    return {
      disk: path.join(dir, 'disk.img'),
      candidates: () => {
        let files: string[] = [];
        try {
          files = fs.readdirSync(dir).filter((f) => f.endsWith('.img'));
        } catch {
          // no such directory: the guest has no swap there
        }
        return Promise.resolve(
          files.map((f) => ({ name: sectionOf(name, f), path: path.join(dir, f), partition: undefined })),
        );
      },
    };
  }
  if (!isPresent(cfgPathOf(paths, name))) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": no domain config ${cfgPathOf(paths, name)}`,
      'give --dir=DIR if its images are in DIR/domains/NAME, --lvm=VG if it is on volumes',
    );
  }
  // A volume is a host device path: it is not moved under --root.
  const disks = readGuest(paths, name).disks.map((d) => ({
    path: parseVolumePath(d.config.target) ? d.config.target : d.path,
    vdev: d.config.vdev,
  }));
  const candidates = disks.map((d) => ({
    name: sectionOf(name, d.path),
    path: d.path,
    partition: /\d+$/.test(d.vdev) ? Number(/\d+$/.exec(d.vdev)![0]) : undefined,
  }));
  // xen-tools' cfg lists the root disk first.
  return {
    disk: candidates.find((c) => c.name !== 'swap')?.path,
    candidates: () => Promise.resolve(candidates),
  };
}

/**
 * The swaps among `candidates`, first swap first: what blkid finds a swap signature on, and the
 * volume named `swap` whatever it holds (so that resizing it says what is wrong with it). In
 * partition order when the cfg gives it, else `swap` first and the others by name.
 */
async function findSwaps(candidates: readonly Candidate[]): Promise<GuestSwapRef[]> {
  const swaps: Candidate[] = [];
  for (const c of candidates) {
    const type = await probeBlock(c.path)
      .then((found) => found?.type)
      .catch(() => undefined);
    if (type === 'swap' || c.name === 'swap') swaps.push(c);
  }
  const order = (c: Candidate): [number, number, string] => [
    c.partition ?? Number.MAX_SAFE_INTEGER,
    c.name === 'swap' ? 0 : 1,
    c.name,
  ];
  swaps.sort((a, b) => {
    const [pa, sa, na] = order(a);
    const [pb, sb, nb] = order(b);
    return pa - pb || sa - sb || na.localeCompare(nb);
  });
  return swaps.map((c) => ({ name: c.name, path: c.path }));
}

/**
 * The swaps to grow and their sizes: `--swap` is the first swap (`swap` under --dir/--lvm),
 * `--swap-of NAME=SIZE` names one.
 */
function pickSwaps(
  name: string,
  swaps: readonly GuestSwapRef[],
  options: ResizeOptions,
): { swap: GuestSwapRef | undefined; size: number }[] {
  const picked: { swap: GuestSwapRef | undefined; size: number }[] = [];
  // Without the cfg's partition numbers (--dir, --lvm) the first swap is the one named swap, as
  // before layouts: never another guest's volume that happens to start with NAME-.
  const first = options.dir || options.lvm ? swaps.find((s) => s.name === 'swap') : swaps[0];
  if (options.swapSize !== undefined) picked.push({ swap: first, size: options.swapSize });
  const known = swaps.length > 0 ? `its swaps: ${swaps.map((s) => s.name).join(', ')}` : 'it has no swap';
  for (const wanted of options.swapSizesOf ?? []) {
    const swap = swaps.find((s) => s.name === wanted.name);
    if (!swap) {
      throw usageError(
        'E_RESIZE_SWAP',
        `guest "${name}" has no swap named "${wanted.name}"`,
        `${known} (--swap-of takes a swap's section name)`,
      );
    }
    if (picked.some((p) => p.swap === swap)) {
      throw usageError(
        'E_RESIZE_SWAP',
        `guest "${name}": the swap "${swap.name}" is given two new sizes`,
        '--swap is its first swap; give each swap one size',
      );
    }
    picked.push({ swap, size: wanted.size });
  }
  return picked;
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

/** Checks the guest and builds the plan that grows it. */
export async function buildResizePlan(
  paths: Paths,
  rawName: string,
  options: ResizeOptions,
): Promise<{ plan: Plan; outcome: ResizeOutcome }> {
  const name = assertGuestName(rawName, 'command line');
  const disk = options.diskSize ?? (options.diskAdd === undefined ? undefined : { add: options.diskAdd });
  if (disk === undefined && options.swapSize === undefined && !options.swapSizesOf?.length) {
    throw usageError(
      'E_USAGE',
      `guest "${name}": nothing to resize`,
      'give --size=SIZE, --swap=SIZE and/or --swap-of=NAME=SIZE',
    );
  }
  if (options.diskSize !== undefined && options.diskAdd !== undefined) {
    throw usageError('E_USAGE', 'a new disk size and a size to add exclude each other', 'give one of them');
  }
  const found = locate(paths, name, options);
  const wantsSwap = options.swapSize !== undefined || (options.swapSizesOf?.length ?? 0) > 0;
  const swaps = wantsSwap ? await findSwaps(await found.candidates()) : [];
  const pickedSwaps = pickSwaps(name, swaps, options);
  const identity = readGuestIdentity(
    paths,
    name,
    [found.disk, ...swaps.map((s) => s.path)].filter((p) => p !== undefined),
  );
  await refuseRunningGuest(identity, paths, 'resize', options.running);
  const targets: ResizeTarget[] = [];
  if (disk !== undefined) targets.push(await inspectTarget('disk', found.disk, disk, name));
  for (const { swap, size } of pickedSwaps)
    targets.push(await inspectTarget('swap', swap?.path, size, name, swap?.name));
  refuseBaseImages(paths, name, targets);
  const outcome: ResizeOutcome = {
    name,
    targets: targets.map((t) => ({
      role: t.role,
      ...(t.name ? { name: t.name } : {}),
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
      // One step per swap (section names are unique); `swap` keeps the id it always had.
      id: target.name && target.name !== 'swap' ? `resize.swap.${target.name}` : 'resize.swap',
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

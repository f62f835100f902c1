/**
 * `xenkit resize-image NAME --size SIZE [--swap SIZE] [--swap-of SECTION=SIZE]...`: grows a stopped
 * guest's root disk and its filesystem, and its swaps (a `--partitions` layout may make several,
 * each named after its section; each keeps its UUID and label), whether they are image files (raw: sparse growth; qcow2: qemu-img
 * resize) or logical volumes (lvextend). Grow only: no filesystem xenkit makes can shrink safely
 * offline (xfs cannot shrink at all). A failure before a filesystem has grown shrinks its
 * container back; once it has grown, the larger disk stays (it is whole and consistent).
 */
import { usageError } from '../errors.js';
import type { FsType } from '../model/guest-spec.js';
import { assertGuestName } from '../model/guest-name.js';
import type { Paths } from '../paths.js';
import { lockGuest } from '../plan/guest-lock.js';
import type { Plan, PlanStep } from '../plan/plan.js';
import { humanSize } from '../storage/free-space.js';
import { describeMakeSwap, makeSwap } from '../storage/swap.js';
import { listVolumes } from '../tools/lvm.js';
import {
  describeGrowContainer,
  describeGrowFs,
  growContainer,
  growFilesystem,
  growUndoDescription,
  type Container,
} from './resize-grow.js';
import { findSwaps, locate, pickSwaps, type ResizePlace, type SwapSizes } from './resize-locate.js';
import { inspectTarget, refuseBaseImages, type ResizeTarget } from './resize-targets.js';
import { readGuestIdentity, refuseRunningGuest, type RunningCheckOptions } from './running.js';

/** What resize-image is asked to grow, and where the guest's images are. */
export interface ResizeOptions extends ResizePlace, SwapSizes {
  /** New size of the root disk, bytes (undefined: leave it). */
  diskSize: number | undefined;
  /** Bytes to add to the root disk (xen-resize-guest's `--add`), instead of a new size. */
  diskAdd?: number | undefined;
  running?: RunningCheckOptions;
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

/** `xenkit resize-image NAME --size SIZE [--swap SIZE] [--swap-of NAME=SIZE]...`: grow a stopped guest's disk and swaps. */
import { ErrorCollector, usageError } from '../../errors.js';
import { logPathOf } from '../../images/guest-files.js';
import { buildResizePlan, type ResizeOptions, type ResizeOutcome } from '../../images/resize-plan.js';
import { parseSize } from '../../model/size.js';
import { planToJSON } from '../../plan/plan.js';
import { humanSize } from '../../storage/free-space.js';
import { recoverBeforeRun, runLoggedPlan } from '../plan-run.js';
import { renderPlan } from '../render-plan.js';
import type { Paths } from '../../paths.js';
import { added, CLOSING_OPTIONS, EVMS_OPTION, opt, refuseVolumeStorage } from './compat-args.js';
import { writeJson, type ImageCommandDeps } from './deps.js';
import type { ImageCommand } from './image-command.js';

interface ResizeFlags {
  size?: string;
  swap?: string;
  /** `--swap-of NAME=SIZE`, repeatable: a swap by its section name. */
  swapOf?: readonly string[];
  add?: string;
  dir?: string;
  lvm?: string;
}

/** Turns the flags into ResizeOptions, reporting every bad one at once. */
export function resizeOptionsFrom(flags: ResizeFlags): ResizeOptions {
  const errors = new ErrorCollector();
  if (
    flags.size === undefined &&
    flags.swap === undefined &&
    flags.add === undefined &&
    !flags.swapOf?.length
  )
    errors.add(
      'E_USAGE',
      'nothing to resize: neither --size, --swap, --swap-of nor --add given',
      'e.g. --size=8G --swap=1G, or --add=1G',
    );
  if (flags.dir !== undefined && flags.lvm !== undefined)
    errors.add(
      'E_USAGE',
      'options --dir and --lvm exclude each other',
      'give one of them, or neither (the cfg says)',
    );
  // Sizes as xen-create-image reads them: a bare number is megabytes.
  const size = (text: string | undefined, what: string): number | undefined =>
    text === undefined ? undefined : errors.attempt(() => parseSize(text, what));
  const diskSize = size(flags.size, '--size');
  const diskAdd = size(flags.add, '--add');
  const swapSize = size(flags.swap, '--swap');
  const swapSizesOf: { name: string; size: number }[] = [];
  for (const given of flags.swapOf ?? []) {
    const match = /^([a-zA-Z0-9-]+)=(.+)$/.exec(given);
    if (!match) {
      errors.add(
        'E_USAGE',
        `--swap-of "${given}" is not NAME=SIZE`,
        "NAME is the swap's section in the --partitions layout (its image NAME.img, its volume HOST-NAME), e.g. --swap-of=swap2=1G",
      );
      continue;
    }
    const bytes = size(match[2], `--swap-of ${match[1]}`);
    if (bytes !== undefined) swapSizesOf.push({ name: match[1]!, size: bytes });
  }
  errors.throwIfAny();
  return {
    diskSize,
    diskAdd,
    swapSize,
    ...(swapSizesOf.length > 0 ? { swapSizesOf } : {}),
    dir: flags.dir,
    lvm: flags.lvm,
  };
}

/** One line per grown container. */
export function renderResizeLines(outcome: ResizeOutcome, dryRun: boolean): string[] {
  return outcome.targets.map(
    (t) =>
      `${dryRun ? 'Would grow' : 'Grew'} ${t.role}${t.name && t.name !== 'swap' ? ` "${t.name}"` : ''} ${t.path} from ${humanSize(t.oldSizeBytes)} to ` +
      `${humanSize(t.newSizeBytes)}${t.role === 'disk' && t.fs ? ` (${t.fs} grown to fill it)` : ''}`,
  );
}

// A table reads best one row a line.
// prettier-ignore
const OPTIONS = [
  added(opt('size', 'string', 'new size of the root disk (e.g. 8G; a bare number is MiB)', 'SIZE')),
  added(opt('swap', 'string', 'new size of the swap (the first one of a --partitions layout with several; e.g. 1G)', 'SIZE')),
  added(opt('swap-of', 'list', 'new size of the swap named NAME, its --partitions section (repeatable; e.g. swap2=1G)', 'NAME=SIZE')),
  opt('add', 'string', 'the space to add to the root disk, e.g. --add=1Gb (a bare number is MiB)', 'SIZE'),
  opt('hostname', 'string', 'the guest to resize (or as the argument)', 'NAME'),
  opt('dir', 'string', 'the images are DIR/domains/NAME/disk.img and swap.img (default: the cfg says)', 'DIR'),
  opt('lvm', 'string', 'the volumes are /dev/VG/NAME-disk and NAME-swap (default: the cfg says)', 'VG'),
  EVMS_OPTION,
  opt('force', 'flag', 'accepted: xenkit never pauses 10 s before it starts (xen-tools did without it)'),
  added(opt('dry-run', 'flag', 'print the plan and change nothing')),
  opt('verbose', 'flag', 'accepted for compatibility'),
  added(opt('quiet', 'flag', 'no progress output')),
  ...CLOSING_OPTIONS,
];

/** `xenkit resize-image` and `xen-resize-guest`. */
export const RESIZE_IMAGE: ImageCommand = {
  name: 'resize-image',
  xenTools: 'xen-resize-guest',
  options: OPTIONS,
  args: [['[name]', 'the guest to resize (must be stopped)']],
  summary: "grow a stopped guest's disk (and its filesystem) and swap",
  description:
    'Grow the root disk of the stopped guest NAME to SIZE (or by --add) and its filesystem with it (resize2fs for ' +
    'ext2/3/4; xfs_growfs and btrfs filesystem resize on a temporary mount), and/or its swap (same ' +
    'UUID and label, so fstab still finds it). A guest made with a --partitions layout of several ' +
    'swap sections has a swap per section: --swap grows the first, --swap-of=NAME=SIZE the one of ' +
    'section NAME (its image NAME.img, its volume HOST-NAME). Image files grow sparsely, qcow2 images with qemu-img ' +
    'resize, LVM volumes with lvextend. Grow only: a smaller size is refused. If a step fails before ' +
    'the filesystem has grown, the disk is shrunk back to its old size.',
  synopsis: 'Usage: xen-resize-guest --hostname=NAME --add=SIZE [--dir=DIR | --lvm=VG] [options]',
  about:
    'Grow the root disk of a stopped guest by SIZE and its filesystem with it (ext2/3/4, xfs, btrfs), ' +
    'sparsely for image files, with lvextend for LVM volumes; a failure before the filesystem has grown ' +
    'shrinks the disk back. The same command as `xenkit resize-image`: --size=SIZE sets the new size instead, ' +
    '--swap=SIZE grows the swap, --swap-of=NAME=SIZE the swap of the --partitions section NAME.',
  run: async ({ values, names, paths, deps, prog, isXenTools }) => {
    refuseVolumeStorage(values, prog);
    const text = (key: string): string | undefined => values.get(key) as string | undefined;
    const given = [...(values.has('hostname') ? [text('hostname')!] : []), ...names];
    if (given.length !== 1)
      throw usageError(
        'E_USAGE',
        given.length === 0 ? 'no guest named' : `one guest at a time, not ${given.join(', ')}`,
        isXenTools ? 'xen-resize-guest --hostname=NAME --add=1Gb' : 'xenkit resize-image NAME --size=8G',
      );
    const resize = resizeOptionsFrom({
      size: text('size'),
      swap: text('swap'),
      swapOf: (values.get('swap-of') as string[] | undefined) ?? [],
      add: text('add'),
      dir: text('dir'),
      lvm: text('lvm'),
    });
    const json = values.get('json') === true;
    await runResize(deps, paths, given[0]!, resize, {
      dryRun: values.get('dry-run') === true,
      json,
      quiet: json || values.get('quiet') === true,
      prog: isXenTools ? prog : `${prog} resize-image`,
    });
    return 0;
  },
};

/** How a resize runs: what it prints and whether it changes anything. */
export interface ResizeRunFlags {
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
  quiet?: boolean | undefined;
  /** The command as the log names it (`xenkit resize-image`, `xen-resize-guest`). */
  prog: string;
}

/** Plans and runs one resize (xenkit resize-image and xen-resize-guest alike). */
export async function runResize(
  deps: ImageCommandDeps,
  paths: Paths,
  name: string,
  resize: ResizeOptions,
  flags: ResizeRunFlags,
): Promise<void> {
  const options = { ...resize, running: { xl: deps.xl } };
  if (!flags.dryRun) await recoverBeforeRun(paths, deps.io);
  const { plan, outcome } = await buildResizePlan(paths, name, options);
  if (flags.dryRun) {
    if (flags.json) writeJson(deps.io, { ok: true, dryRun: true, ...outcome, plan: planToJSON(plan) });
    else deps.io.stdout.write(`${renderPlan(plan)}${renderResizeLines(outcome, true).join('\n')}\n`);
    return;
  }
  const totalMs = await runLoggedPlan(plan, {
    paths,
    journal: `resize-image ${outcome.name}`,
    io: deps.io,
    log: logPathOf(paths, outcome.name),
    header: `${flags.prog} ${name}`,
    quiet: flags.quiet === true || flags.json === true,
    env: deps.env ?? process.env,
  });
  if (flags.json) writeJson(deps.io, { ok: true, ...outcome, totalMs });
  else deps.io.stdout.write(`${renderResizeLines(outcome, false).join('\n')}\n`);
}

/** `xenkit resize-image NAME --size SIZE [--swap SIZE]`: grow a stopped guest's disk and swap. */
import type { Command } from 'commander';
import { ErrorCollector } from '../../errors.js';
import { logPathOf } from '../../images/guest-files.js';
import { buildResizePlan, type ResizeOptions, type ResizeOutcome } from '../../images/resize-plan.js';
import { RunLog } from '../../log/run-log.js';
import { parseSize } from '../../model/size.js';
import { planToJSON } from '../../plan/plan.js';
import { humanSize } from '../../storage/free-space.js';
import { recoverBeforeRun, runPlan, startProgress } from '../plan-run.js';
import { renderPlan } from '../render-plan.js';
import type { Paths } from '../../paths.js';
import { pathsFor, writeJson, type ImageCommandDeps } from './deps.js';

interface ResizeFlags {
  size?: string;
  swap?: string;
  dir?: string;
  lvm?: string;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
  root?: string;
}

/** Turns the flags into ResizeOptions, reporting every bad one at once. */
export function resizeOptionsFrom(flags: ResizeFlags): ResizeOptions {
  const errors = new ErrorCollector();
  if (flags.size === undefined && flags.swap === undefined)
    errors.add('E_USAGE', 'nothing to resize: neither --size nor --swap given', 'e.g. --size=8G --swap=1G');
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
  const swapSize = size(flags.swap, '--swap');
  errors.throwIfAny();
  return { diskSize, swapSize, dir: flags.dir, lvm: flags.lvm };
}

/** One line per grown container. */
export function renderResizeLines(outcome: ResizeOutcome, dryRun: boolean): string[] {
  return outcome.targets.map(
    (t) =>
      `${dryRun ? 'Would grow' : 'Grew'} ${t.role} ${t.path} from ${humanSize(t.oldSizeBytes)} to ` +
      `${humanSize(t.newSizeBytes)}${t.role === 'disk' && t.fs ? ` (${t.fs} grown to fill it)` : ''}`,
  );
}

/** Registers `resize-image`. */
export function addResizeImageCommand(program: Command, deps: ImageCommandDeps): void {
  program
    .command('resize-image')
    .summary("grow a stopped guest's disk (and its filesystem) and swap")
    .description(
      'Grow the root disk of the stopped guest NAME to SIZE and its filesystem with it (resize2fs for ' +
        'ext2/3/4; xfs_growfs and btrfs filesystem resize on a temporary mount), and/or its swap (same ' +
        'UUID and label, so fstab still finds it). Image files grow sparsely, qcow2 images with qemu-img ' +
        'resize, LVM volumes with lvextend. Grow only: a smaller size is refused. If a step fails before ' +
        'the filesystem has grown, the disk is shrunk back to its old size.',
    )
    .argument('<name>', 'the guest to resize (must be stopped)')
    .option('--size <size>', 'new size of the root disk (e.g. 8G; a bare number is MiB)')
    .option('--swap <size>', 'new size of the swap (e.g. 1G)')
    .option('--dir <dir>', 'the images are DIR/domains/NAME/disk.img and swap.img (default: the cfg says)')
    .option('--lvm <vg>', 'the volumes are /dev/VG/NAME-disk and NAME-swap (default: the cfg says)')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (name: string, flags: ResizeFlags) => {
      const paths = pathsFor(deps, flags.root);
      await runResize(deps, paths, name, resizeOptionsFrom(flags), { ...flags, prog: 'xenkit resize-image' });
    });
}

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
  const log = new RunLog(logPathOf(paths, outcome.name));
  const reporter = startProgress(deps.io, flags.quiet === true || flags.json === true);
  const started = performance.now();
  try {
    log.sink({ type: 'info', message: `${flags.prog} ${name}` });
    await runPlan(plan, {
      paths,
      journal: `resize-image ${outcome.name}`,
      sink: log.sink,
      reporter,
      env: deps.env ?? process.env,
    });
  } finally {
    reporter.stop();
    log.close();
  }
  const totalMs = Math.round(performance.now() - started);
  if (flags.json) writeJson(deps.io, { ok: true, ...outcome, totalMs });
  else deps.io.stdout.write(`${renderResizeLines(outcome, false).join('\n')}\n`);
}

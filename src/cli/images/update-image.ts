/** `xen-update-image` / `xenkit update-image`: apt inside stopped guests' images. */
import type { Command } from 'commander';
import { buildUpdatePlan, type UpdateOptions } from '../../images/update-plan.js';
import { logPathOf } from '../../images/guest-files.js';
import { RunLog } from '../../log/run-log.js';
import { planToJSON } from '../../plan/plan.js';
import type { Paths } from '../../paths.js';
import { recoverBeforeRun, runPlan, startProgress } from '../plan-run.js';
import { renderPlan } from '../render-plan.js';
import { forEachGuest, pathsFor, type ImageCommandDeps } from './deps.js';

export interface UpdateRun {
  names: string[];
  options: UpdateOptions;
  dryRun: boolean;
  json: boolean;
  quiet: boolean;
  prog: string;
}

/** Updates each guest in turn; a running one is skipped with xen-tools' message. */
export async function runUpdate(paths: Paths, run: UpdateRun, deps: ImageCommandDeps): Promise<number> {
  const { io } = deps;
  if (!run.dryRun) await recoverBeforeRun(paths, io);
  return forEachGuest(run, io, async (name, results) => {
    const { plan, outcome } = await buildUpdatePlan(paths, name, run.options);
    if (run.dryRun) {
      if (run.json) results.push({ name, ok: true, dryRun: true, plan: planToJSON(plan) });
      else io.stdout.write(renderPlan(plan));
      return 0;
    }
    // The guest's log gets the apt runs, as xen-create-image's run went there.
    const log = new RunLog(logPathOf(paths, name));
    const reporter = startProgress(io, run.quiet || run.json);
    try {
      log.sink({ type: 'info', message: `${run.prog} ${name}: apt-get update and ${run.options.upgrade}` });
      await runPlan(plan, {
        paths,
        journal: `update-image ${name}`,
        sink: log.sink,
        reporter,
        env: deps.env ?? process.env,
      });
    } finally {
      reporter.stop();
      log.close();
    }
    results.push({ ok: outcome.isDebian, ...outcome });
    if (!outcome.isDebian) {
      if (!run.json) io.stdout.write(`Xen image ${name} is not a Debian GNU/Linux image.  Skipping\n`);
      return 1;
    }
    if (!run.json)
      io.stdout.write(
        `Updated ${name} (${outcome.image}): ${outcome.upgraded ?? '?'} upgraded, ${outcome.newlyInstalled ?? '?'} newly installed, in ${(outcome.durationMs / 1000).toFixed(1)} s\n`,
      );
    return 0;
  });
}

/** Registers `update-image`. */
export function addUpdateImageCommand(program: Command, deps: ImageCommandDeps): void {
  program
    .command('update-image')
    .summary("apt-get update and upgrade inside stopped guests' images")
    .description(
      'Mount the root image (or logical volume) of each stopped guest NAME, and run apt-get update and dist-upgrade in a ' +
        'chroot (no daemon starts: policy-rc.d; no questions: noninteractive, configs kept), then apt-get ' +
        'clean. Everything mounted or changed for the run is put back, also on failure or a signal.',
    )
    .argument('<names...>', 'guests to update')
    .option('--dir <dir>', 'the root image is DIR/domains/NAME/disk.img (default: the first disk of the cfg)')
    .option('--lvm <vg>', 'the root filesystem is the volume /dev/VG/NAME-disk')
    .option('--upgrade', 'plain `apt-get upgrade` (as xen-tools) instead of dist-upgrade')
    .option('--no-clean', 'keep the downloaded packages in the image')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(
      async (
        names: string[],
        flags: {
          dir?: string;
          lvm?: string;
          upgrade?: boolean;
          clean?: boolean;
          dryRun?: boolean;
          json?: boolean;
          quiet?: boolean;
          root?: string;
        },
      ) => {
        const code = await runUpdate(
          pathsFor(deps, flags.root),
          {
            names,
            options: {
              dir: flags.dir,
              lvm: flags.lvm,
              upgrade: flags.upgrade ? 'upgrade' : 'dist-upgrade',
              clean: flags.clean !== false,
              running: { xl: deps.xl },
            },
            dryRun: flags.dryRun === true,
            json: flags.json === true,
            quiet: flags.quiet === true,
            prog: deps.prog ?? 'xenkit',
          },
          deps,
        );
        if (code !== 0) process.exitCode = code;
      },
    );
}

/** `xen-update-image` / `xenkit update-image`: apt inside stopped guests' images. */
import { usageError } from '../../errors.js';
import { buildUpdatePlan, type UpdateOptions } from '../../images/update-plan.js';
import { logPathOf } from '../../images/guest-files.js';
import { planToJSON } from '../../plan/plan.js';
import type { Paths } from '../../paths.js';
import { recoverBeforeRun, runLoggedPlan } from '../plan-run.js';
import { renderPlan } from '../render-plan.js';
import { added, CLOSING_OPTIONS, EVMS_OPTION, opt, refuseVolumeStorage, storageOf } from './compat-args.js';
import { forEachGuest, type ImageCommandDeps } from './deps.js';
import type { ImageCommand } from './image-command.js';

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
    await runLoggedPlan(plan, {
      paths,
      journal: `update-image ${name}`,
      io,
      log: logPathOf(paths, name),
      header: `${run.prog} ${name}: apt-get update and ${run.options.upgrade}`,
      quiet: run.quiet || run.json,
      env: deps.env ?? process.env,
    });
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

// A table reads best one row a line.
// prettier-ignore
const OPTIONS = [
  opt('dir', 'string', 'the root image is DIR/domains/NAME/disk.img (default: the first disk of the cfg; xen-update-image: xen-tools.conf)', 'DIR'),
  opt('lvm', 'string', 'the root filesystem is the volume /dev/VG/NAME-disk', 'VG'),
  EVMS_OPTION,
  added(opt('dist-upgrade', 'flag', 'apt-get dist-upgrade (the default of xenkit update-image)')),
  added(opt('upgrade', 'flag', 'plain apt-get upgrade (the default of xen-update-image, as xen-tools)')),
  added(opt('no-clean', 'flag', 'keep the downloaded packages in the image')),
  added(opt('dry-run', 'flag', 'print the plan and change nothing')),
  added(opt('quiet', 'flag', 'no progress output')),
  ...CLOSING_OPTIONS,
];

/** `xenkit update-image` and `xen-update-image`. */
export const UPDATE_IMAGE: ImageCommand = {
  name: 'update-image',
  xenTools: 'xen-update-image',
  options: OPTIONS,
  args: [['<names...>', 'guests to update']],
  summary: "apt-get update and upgrade inside stopped guests' images",
  description:
    'Mount the root image (or logical volume) of each stopped guest NAME, and run apt-get update and dist-upgrade in a ' +
    'chroot (no daemon starts: policy-rc.d; no questions: noninteractive, configs kept), then apt-get ' +
    'clean. Everything mounted or changed for the run is put back, also on failure or a signal.',
  synopsis: 'Usage: xen-update-image [options] NAME1 NAME2 .. NAMEN',
  about: 'Run apt-get update and apt-get upgrade inside the images of stopped guests.',
  run: async ({ values, names, paths, deps, prog, isXenTools }) => {
    refuseVolumeStorage(values, prog);
    if (names.length === 0)
      throw usageError(
        'E_USAGE',
        'no guest named',
        isXenTools ? 'xen-update-image --dir=/home/xen NAME' : 'xenkit update-image NAME',
      );
    if (values.get('upgrade') && values.get('dist-upgrade'))
      throw usageError(
        'E_USAGE',
        'options --upgrade and --dist-upgrade exclude each other',
        'give one of them',
      );
    const { dir, lvm, fromConf } = await storageOf(values, paths, isXenTools);
    const dist = values.get('dist-upgrade') === true || (!isXenTools && values.get('upgrade') !== true);
    const json = values.get('json') === true;
    return runUpdate(
      paths,
      {
        names,
        options: {
          dir,
          lvm,
          storageFromConf: fromConf,
          upgrade: dist ? 'dist-upgrade' : 'upgrade',
          clean: values.get('no-clean') !== true,
          running: { xl: deps.xl },
        },
        dryRun: values.get('dry-run') === true,
        json,
        quiet: json || values.get('quiet') === true,
        prog,
      },
      deps,
    );
  },
};

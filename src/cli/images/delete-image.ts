/** `xen-delete-image` / `xenkit delete-image`: remove stopped guests, saying what goes. */
import {
  buildDeletePlan,
  describeDelete,
  inspectDelete,
  type DeleteOptions,
  type DeleteTarget,
} from '../../images/delete-plan.js';
import { usageError } from '../../errors.js';
import type { Paths } from '../../paths.js';
import { recoverBeforeRun, runPlan } from '../plan-run.js';
import { added, CLOSING_OPTIONS, EVMS_OPTION, opt, refuseVolumeStorage, storageOf } from './compat-args.js';
import { forEachGuest, type ImageCommandDeps } from './deps.js';
import type { ImageCommand } from './image-command.js';

export interface DeleteRun {
  names: string[];
  options: DeleteOptions;
  dryRun: boolean;
  json: boolean;
  prog: string;
}

/** xen-tools' words for a volume: `LVM disk volume`, `LVM swap volume`, else `LVM volume`. */
function volumeWords(path: string): string {
  if (path.endsWith('-disk')) return 'LVM disk volume';
  if (path.endsWith('-swap')) return 'LVM swap volume';
  return 'LVM volume';
}

/** The lines xen-delete-image prints for one guest (`Deleting:`, `Removing:`, `Would delete:`). */
export function renderDeleteLines(target: DeleteTarget, dryRun: boolean): string[] {
  const lines = target.removals.map((r) => {
    if (r.kind === 'volume')
      return `${dryRun ? 'Would remove' : 'Removing'} ${volumeWords(r.path)} ${r.path}`;
    if (dryRun) return `Would delete: ${r.path}`;
    return r.kind === 'directory' ? `Removing: ${r.path}` : `Deleting: ${r.path}`;
  });
  for (const a of target.addresses) lines.push(`${dryRun ? 'Would release' : 'Released'} address: ${a}`);
  for (const b of target.unmarkBases)
    lines.push(
      `${dryRun ? 'Would make' : 'Made'} writable again (no linked clone left): ${b.images.join(', ')}`,
    );
  for (const l of target.hostsLines)
    lines.push(`${dryRun ? 'Would remove' : 'Removed'} from /etc/hosts: ${l}`);
  for (const k of target.kept) {
    // A disk line xenkit will not follow is a warning: the user may have expected it to go.
    lines.push(k.kind === 'log' ? `Kept: ${k.path}` : `Warning: not deleting ${k.path}: ${k.why}`);
  }
  return lines;
}

/** Deletes each guest in turn; a running or missing one is reported and the others still go. */
export async function runDelete(paths: Paths, run: DeleteRun, deps: ImageCommandDeps): Promise<number> {
  const { io } = deps;
  if (!run.dryRun) await recoverBeforeRun(paths, io);
  return forEachGuest(run, io, async (name, results) => {
    const target = await inspectDelete(paths, name, run.options);
    if (!run.dryRun)
      await runPlan(buildDeletePlan(paths, [target]), { paths, journal: `delete-image ${name}` });
    if (!run.json)
      io.stdout.write(
        renderDeleteLines(target, run.dryRun)
          .map((l) => `${l}\n`)
          .join(''),
      );
    results.push({
      name,
      ok: true,
      dryRun: run.dryRun,
      removed: target.removals,
      releasedAddresses: target.addresses,
      unmarkedBases: target.unmarkBases,
      kept: target.kept,
      actions: describeDelete(target),
    });
    return 0;
  });
}

// A table reads best one row a line.
// prettier-ignore
const OPTIONS = [
  opt('dir', 'string', 'the images are in DIR/domains/NAME (default: where the cfg says; xen-delete-image: xen-tools.conf)', 'DIR'),
  opt('lvm', 'string', 'also remove the volumes /dev/VG/NAME-disk and NAME-swap (even without a cfg)', 'VG'),
  EVMS_OPTION,
  opt('zpool', 'string', 'the ZFS pool (not available)', 'POOL'),
  opt('extension', 'optional', 'file extension of the configs (default .cfg)', 'EXT'),
  opt('hostname', 'list', 'a guest to delete (repeatable; names may also follow the options)', 'NAME'),
  opt('dry-run', 'flag', 'say what would be deleted, delete nothing'),
  added(opt('force', 'flag', 'delete a guest even though linked clones or other guests use its images (they break)')),
  opt('test', 'flag', 'accepted for compatibility (xenkit never needs it)'),
  opt('verbose', 'flag', 'accepted for compatibility'),
  opt('no-xen-ok', 'flag', 'deprecated and ignored, as in xen-tools'),
  ...CLOSING_OPTIONS,
];

/** `xenkit delete-image` and `xen-delete-image`. */
export const DELETE_IMAGE: ImageCommand = {
  name: 'delete-image',
  xenTools: 'xen-delete-image',
  options: OPTIONS,
  args: [['[names...]', 'guests to delete']],
  summary: 'delete stopped guests: images, config, autostart link',
  description:
    'Delete the stopped guests NAME...: their autostart link, /etc/xen/NAME.cfg and image directory ' +
    'DIR/domains/NAME, the logical volumes of an LVM guest (--lvm VG: NAME-disk, NAME-swap, and every ' +
    '/dev/VG/NAME-* the cfg names), and give back an --ip=auto address. Nothing else: a disk the cfg ' +
    'names outside DIR/domains/NAME (or reached through a symlink out of it) is reported and kept. ' +
    'The log /var/log/xen-tools/NAME.log is kept, as xen-tools keeps it. A running guest (by name, or ' +
    'by a process holding its images) is skipped; a guest whose images back linked clones or hold ' +
    "another guest's image is refused without --force.",
  synopsis: 'Usage: xen-delete-image [options] [--hostname=]NAME [--hostname=]NAME2 ...',
  about:
    'Delete guests made by xen-create-image: the autostart link, /etc/xen/NAME.cfg and DIR/domains/NAME. The log stays.',
  run: async ({ values, names, paths, deps, prog, isXenTools }) => {
    refuseVolumeStorage(values, prog);
    const all = [...names, ...((values.get('hostname') as string[] | undefined) ?? [])];
    if (all.length === 0)
      throw usageError(
        'E_USAGE',
        'no guest named',
        isXenTools ? 'xen-delete-image --dir=/home/xen NAME' : 'xenkit delete-image NAME',
      );
    const ext = values.get('extension');
    const { dir, lvm, fromConf } = await storageOf(values, paths, isXenTools);
    return runDelete(
      paths,
      {
        names: all,
        options: {
          dir,
          lvm,
          storageFromConf: fromConf,
          extension: typeof ext === 'string' ? ext : '.cfg',
          force: values.get('force') === true,
          running: { xl: deps.xl },
        },
        dryRun: values.get('dry-run') === true,
        json: values.get('json') === true,
        prog,
      },
      deps,
    );
  },
};

/**
 * `xen-resize-guest`: the xen-tools-compatible front-end of `xenkit resize-image`: `--add` grows
 * the root disk of a stopped guest by that much, and its filesystem with it.
 */
import { usageError } from '../../errors.js';
import { parseSize } from '../../model/size.js';
import { CLOSING_OPTIONS, opt, refuseVolumeStorage } from '../images/compat-args.js';
import { runCompatCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { runResize } from '../images/resize-image.js';
import type { CliIO } from '../run-cli.js';

const TABLE = [
  opt('add', 'string', 'the space to add to the root disk, e.g. --add=1Gb (a bare number is MiB)', 'SIZE'),
  opt('hostname', 'string', 'the guest to resize (or as the argument)', 'NAME'),
  opt('dir', 'string', 'the images are DIR/domains/NAME/disk.img (default: the cfg says)', 'DIR'),
  opt('lvm', 'string', 'the volume is /dev/VG/NAME-disk (default: the cfg says)', 'VG'),
  opt('evms', 'string', 'the EVMS container (not available)', 'C'),
  opt('force', 'flag', 'accepted: xenkit never pauses 10 s before it starts (xen-tools did without it)'),
  opt('dry-run', 'flag', 'xenkit: print the plan and change nothing'),
  opt('verbose', 'flag', 'accepted for compatibility'),
  ...CLOSING_OPTIONS,
];

/** Runs `xen-resize-guest` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: CliIO,
  deps: Partial<ImageCommandDeps> = {},
): Promise<number> {
  return runCompatCommand(
    {
      prog: 'xen-resize-guest',
      table: TABLE,
      synopsis: 'Usage: xen-resize-guest --hostname=NAME --add=SIZE [--dir=DIR | --lvm=VG] [options]',
      about:
        'Grow the root disk of a stopped guest by SIZE and its filesystem with it (ext2/3/4, xfs, btrfs), ' +
        'sparsely for image files, with lvextend for LVM volumes; a failure before the filesystem has grown ' +
        'shrinks the disk back. The same as `xenkit resize-image NAME --size=...`, which can also grow the swap.',
      run: async ({ values, names }, paths, streams) => {
        refuseVolumeStorage(values, 'xen-resize-guest');
        const given = [...(values.get('hostname') ? [values.get('hostname') as string] : []), ...names];
        if (given.length !== 1)
          throw usageError(
            'E_USAGE',
            given.length === 0 ? 'no guest named' : `one guest at a time, not ${given.join(', ')}`,
            'xen-resize-guest --hostname=NAME --add=1Gb',
          );
        const add = values.get('add') as string | undefined;
        if (add === undefined)
          throw usageError('E_USAGE', 'no size to add', 'e.g. --add=1Gb (a bare number is MiB: --add=512)');
        const dir = values.get('dir') as string | undefined;
        const lvm = values.get('lvm') as string | undefined;
        if (dir !== undefined && lvm !== undefined)
          throw usageError(
            'E_USAGE',
            'options --dir and --lvm exclude each other',
            'give one of them, or neither',
          );
        await runResize(
          { io: streams, ...deps },
          paths,
          given[0]!,
          { diskSize: undefined, diskAdd: parseSize(add, '--add'), swapSize: undefined, dir, lvm },
          {
            dryRun: values.get('dry-run') === true,
            json: values.get('json') === true,
            quiet: values.get('json') === true,
            prog: 'xen-resize-guest',
          },
        );
        return 0;
      },
    },
    argv,
    io,
    deps,
  );
}

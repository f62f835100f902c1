/** `xen-delete-image`: the xen-tools-compatible front-end (same options, same output lines). */
import { usageError } from '../../errors.js';
import { CLOSING_OPTIONS, opt, refuseVolumeStorage, resolveCompatStorage } from '../images/compat-args.js';
import { runCompatCommand } from '../images/compat-main.js';
import { runDelete } from '../images/delete-image.js';
import type { ImageCommandDeps } from '../images/deps.js';
import type { CliIO } from '../run-cli.js';

const TABLE = [
  opt('dir', 'string', 'the directory the images were saved in (images in DIR/domains/NAME)', 'DIR'),
  opt('lvm', 'string', 'the LVM volume group of the guest (volumes /dev/VG/NAME-disk, NAME-swap)', 'VG'),
  opt('evms', 'string', 'the EVMS container (not available)', 'C'),
  opt('zpool', 'string', 'the ZFS pool (not available)', 'POOL'),
  opt('extension', 'optional', 'file extension of the configs (default .cfg)', 'EXT'),
  opt('hostname', 'list', 'a guest to delete (repeatable; names may also follow the options)', 'NAME'),
  opt('dry-run', 'flag', 'say what would be deleted, delete nothing'),
  opt('force', 'flag', 'xenkit: delete a guest whose images back linked clones'),
  opt('test', 'flag', 'accepted for compatibility (xenkit never needs it)'),
  opt('verbose', 'flag', 'accepted for compatibility'),
  opt('no-xen-ok', 'flag', 'deprecated and ignored, as in xen-tools'),
  ...CLOSING_OPTIONS,
];

const SYNOPSIS = 'Usage: xen-delete-image [options] [--hostname=]NAME [--hostname=]NAME2 ...';

/** Runs `xen-delete-image` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: CliIO,
  deps: Partial<ImageCommandDeps> = {},
): Promise<number> {
  return runCompatCommand(
    {
      prog: 'xen-delete-image',
      table: TABLE,
      synopsis: SYNOPSIS,
      about:
        'Delete guests made by xen-create-image: the autostart link, /etc/xen/NAME.cfg and DIR/domains/NAME. The log stays.',
      run: async ({ values, names }, paths, streams) => {
        refuseVolumeStorage(values, 'xen-delete-image');
        const all = [...names, ...((values.get('hostname') as string[] | undefined) ?? [])];
        if (all.length === 0)
          throw usageError('E_USAGE', 'no guest named', 'xen-delete-image --dir=/home/xen NAME');
        const ext = values.get('extension');
        const { dir, lvm, fromConf } = await resolveCompatStorage(values, paths);
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
            prog: 'xen-delete-image',
          },
          { io: streams, ...deps },
        );
      },
    },
    argv,
    io,
    deps,
  );
}

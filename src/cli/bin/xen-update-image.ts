/** `xen-update-image`: the xen-tools-compatible front-end (apt-get update and upgrade, as 4.9.2). */
import { usageError } from '../../errors.js';
import { CLOSING_OPTIONS, opt, refuseVolumeStorage, resolveCompatStorage } from '../images/compat-args.js';
import { runCompatCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { runUpdate } from '../images/update-image.js';
import type { CliIO } from '../run-cli.js';

const TABLE = [
  opt('dir', 'string', 'the directory holding the images (DIR/domains/NAME/disk.img)', 'DIR'),
  opt('lvm', 'string', 'the LVM volume group of the guest (volumes /dev/VG/NAME-disk, NAME-swap)', 'VG'),
  opt('evms', 'string', 'the EVMS container (not available)', 'C'),
  opt('dist-upgrade', 'flag', 'xenkit: apt-get dist-upgrade instead of upgrade'),
  opt('dry-run', 'flag', 'xenkit: print the plan and change nothing'),
  ...CLOSING_OPTIONS,
];

const SYNOPSIS = 'Usage: xen-update-image [options] NAME1 NAME2 .. NAMEN';

/** Runs `xen-update-image` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: CliIO,
  deps: Partial<ImageCommandDeps> = {},
): Promise<number> {
  return runCompatCommand(
    {
      prog: 'xen-update-image',
      table: TABLE,
      synopsis: SYNOPSIS,
      about: 'Run apt-get update and apt-get upgrade inside the images of stopped guests.',
      run: async ({ values, names }, paths, streams) => {
        refuseVolumeStorage(values, 'xen-update-image');
        if (names.length === 0)
          throw usageError('E_USAGE', 'no guest named', 'xen-update-image --dir=/home/xen NAME');
        const { dir, lvm, fromConf } = await resolveCompatStorage(values, paths);
        return runUpdate(
          paths,
          {
            names,
            options: {
              dir,
              lvm,
              storageFromConf: fromConf,
              upgrade: values.get('dist-upgrade') ? 'dist-upgrade' : 'upgrade',
              clean: true,
              running: { xl: deps.xl },
            },
            dryRun: values.get('dry-run') === true,
            json: values.get('json') === true,
            quiet: values.get('json') === true,
            prog: 'xen-update-image',
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

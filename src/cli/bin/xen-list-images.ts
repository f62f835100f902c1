/** `xen-list-images`: the xen-tools-compatible front-end. */
import { makePaths, resolveRoot } from '../../paths.js';
import { packageVersion } from '../create-image.js';
import { opt, parseCompatArgs, renderCompatHelp } from '../images/compat-args.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { runList } from '../images/list-images.js';
import { runCli, type CliIO } from '../run-cli.js';
import { usageError } from '../../errors.js';

const TABLE = [
  opt('test', 'string', 'read the configs from DIR instead of /etc/xen', 'DIR'),
  opt('extension', 'optional', 'file extension of the configs (default .cfg)', 'EXT'),
  opt('json', 'flag', 'xenkit: print the result as JSON'),
  opt('root', 'string', 'xenkit: work under DIR instead of / (also XENKIT_ROOT)', 'DIR'),
  opt('help', 'flag', 'show this help'),
  opt('manual', 'flag', 'show this help'),
  opt('version', 'flag', 'show the version'),
];

/** Runs `xen-list-images` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: CliIO,
  deps: Partial<ImageCommandDeps> = {},
): Promise<number> {
  const streams = io ?? { stdout: process.stdout, stderr: process.stderr };
  const json = argv.includes('--json');
  return runCli(
    'xen-list-images',
    async () => {
      const { values, names } = parseCompatArgs(argv, TABLE, 'xen-list-images');
      if (names.length > 0)
        throw usageError(
          'E_USAGE',
          `unexpected argument "${names[0]}"`,
          'xen-list-images takes no names; see --help',
        );
      if (values.get('help') || values.get('manual')) {
        streams.stdout.write(
          renderCompatHelp(
            'Usage: xen-list-images [options]',
            TABLE,
            'List the guests made by xen-create-image: every /etc/xen/*.cfg.',
          ),
        );
        return 0;
      }
      if (values.get('version')) {
        streams.stdout.write(`xen-list-images release 4.9.2 (xenkit ${packageVersion()})\n`);
        return 0;
      }
      const paths = makePaths(resolveRoot(values.get('root') as string | undefined, deps.env ?? process.env));
      const ext = values.get('extension');
      const test = values.get('test') as string | undefined;
      return runList(
        paths,
        { configDir: test, extension: typeof ext === 'string' ? ext : '.cfg', running: { xl: deps.xl } },
        values.get('json') === true,
        { io: streams, ...deps },
      );
    },
    { io: streams, wantsJson: () => json },
  );
}

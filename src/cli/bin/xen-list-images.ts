/** `xen-list-images`: the xen-tools-compatible front-end. */
import { CLOSING_OPTIONS, opt } from '../images/compat-args.js';
import { runCompatCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { runList } from '../images/list-images.js';
import type { CliIO } from '../run-cli.js';
import { usageError } from '../../errors.js';

const TABLE = [
  opt('test', 'string', 'read the configs from DIR instead of /etc/xen', 'DIR'),
  opt('extension', 'optional', 'file extension of the configs (default .cfg)', 'EXT'),
  ...CLOSING_OPTIONS,
];

/** Runs `xen-list-images` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: CliIO,
  deps: Partial<ImageCommandDeps> = {},
): Promise<number> {
  return runCompatCommand(
    {
      prog: 'xen-list-images',
      table: TABLE,
      synopsis: 'Usage: xen-list-images [options]',
      about: 'List the guests made by xen-create-image: every /etc/xen/*.cfg.',
      run: async ({ values, names }, paths, streams) => {
        if (names.length > 0)
          throw usageError(
            'E_USAGE',
            `unexpected argument "${names[0]}"`,
            'xen-list-images takes no names; see --help',
          );
        const ext = values.get('extension');
        const test = values.get('test') as string | undefined;
        return runList(
          paths,
          { configDir: test, extension: typeof ext === 'string' ? ext : '.cfg', running: { xl: deps.xl } },
          values.get('json') === true,
          { io: streams, ...deps },
        );
      },
    },
    argv,
    io,
    deps,
  );
}

/**
 * The shared frame of the xen-tools image front-ends (xen-delete-image, xen-list-images,
 * xen-update-image, xen-resize-guest): parse the Getopt::Long command line, answer
 * --help/--manual/--version, resolve the root, run the command, and map errors to exit codes
 * (text or JSON).
 */
import { makePaths, resolveRoot } from '../../paths.js';
import { packageVersion } from '../package-version.js';
import { runCli, type CliIO } from '../run-cli.js';
import { HELP_OPTIONS, parseCompatArgs, renderCompatHelp } from './compat-args.js';
import type { ImageCommandDeps } from './deps.js';
import type { ImageCommand } from './image-command.js';

/** Runs `command` by its xen-tools name with `argv` and returns the exit status. */
export async function runXenToolsCommand(
  command: ImageCommand,
  argv: string[],
  io: CliIO | undefined,
  deps: Partial<ImageCommandDeps>,
): Promise<number> {
  const streams = io ?? { stdout: process.stdout, stderr: process.stderr };
  const json = argv.includes('--json');
  const prog = command.xenTools;
  const table = [...command.options, ...HELP_OPTIONS];
  return runCli(
    prog,
    async () => {
      const { values, names } = parseCompatArgs(argv, table, prog);
      if (values.get('help') || values.get('manual')) {
        streams.stdout.write(renderCompatHelp(command.synopsis, table, command.about));
        return 0;
      }
      if (values.get('version')) {
        streams.stdout.write(`${prog} release 4.9.2 (xenkit ${packageVersion()})\n`);
        return 0;
      }
      const paths = makePaths(resolveRoot(values.get('root') as string | undefined, deps.env ?? process.env));
      return command.run({ values, names, paths, deps: { ...deps, io: streams }, prog, isXenTools: true });
    },
    { io: streams, wantsJson: () => json },
  );
}

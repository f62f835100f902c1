/**
 * The shared frame of the xen-tools image front-ends (xen-delete-image, xen-list-images,
 * xen-update-image): parse the Getopt::Long command line, answer --help/--manual/--version,
 * resolve the root, run the command, and map errors to exit codes (text or JSON).
 */
import type { OptionDef } from '../../config/options.js';
import { makePaths, resolveRoot, type Paths } from '../../paths.js';
import { packageVersion } from '../create-image.js';
import { runCli, type CliIO } from '../run-cli.js';
import { parseCompatArgs, renderCompatHelp, type CompatArgs } from './compat-args.js';
import type { ImageCommandDeps } from './deps.js';

/** One front-end: its option table, its help, and what it does once parsed. */
export interface CompatCommand {
  prog: string;
  table: readonly OptionDef[];
  synopsis: string;
  about: string;
  run(args: CompatArgs, paths: Paths, io: CliIO): Promise<number>;
}

/** Runs `command` with `argv` and returns the exit status. */
export async function runCompatCommand(
  command: CompatCommand,
  argv: string[],
  io: CliIO | undefined,
  deps: Partial<ImageCommandDeps>,
): Promise<number> {
  const streams = io ?? { stdout: process.stdout, stderr: process.stderr };
  const json = argv.includes('--json');
  return runCli(
    command.prog,
    async () => {
      const args = parseCompatArgs(argv, command.table, command.prog);
      if (args.values.get('help') || args.values.get('manual')) {
        streams.stdout.write(renderCompatHelp(command.synopsis, command.table, command.about));
        return 0;
      }
      if (args.values.get('version')) {
        streams.stdout.write(`${command.prog} release 4.9.2 (xenkit ${packageVersion()})\n`);
        return 0;
      }
      const root = args.values.get('root') as string | undefined;
      return command.run(args, makePaths(resolveRoot(root, deps.env ?? process.env)), streams);
    },
    { io: streams, wantsJson: () => json },
  );
}

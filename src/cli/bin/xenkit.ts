/** `xenkit`: the umbrella command: create-image and the image tools, the domain verbs of `xm`, info. */
import { Command } from 'commander';
import { runCreateImage } from '../create-image.js';
import { packageVersion } from '../package-version.js';
import { addBackupCommands } from '../backup/index.js';
import { addCacheCommands } from '../cache-command.js';
import { addDetectCommand } from '../detect-command.js';
import { addDoctorCommand } from '../doctor-command.js';
import { addHostsCommands } from '../hosts-command.js';
import { addImageCommands } from '../images/index.js';
import { runCli } from '../run-cli.js';
import { addDomainCommands, processIO, type DomainCommandDeps, type DomainCommandIO } from '../xm/index.js';

/** Builds the `xenkit` program; `setJson` learns whether the running command wants JSON errors. */
export function buildXenkitProgram(deps: DomainCommandDeps, setJson: (on: boolean) => void): Command {
  const { io } = deps;
  const program = new Command('xenkit')
    .description('Create and run Xen-style virtual machines from a config file and a command line.')
    .addHelpText(
      'after',
      '\nGuests are built as xen-tools builds them (same options, same /etc/xen-tools/xen-tools.conf,\n' +
        'same files on disk) and run on Xen xl where the host is a dom0, on QEMU (KVM, else TCG) elsewhere.\n' +
        'Every command takes --root DIR (or XENKIT_ROOT) to work inside a scratch directory.\n' +
        'The same tools answer to their classic names: xen-create-image, xen-delete-image, xen-list-images,\n' +
        'xen-update-image, xen-resize-guest and xm.',
    )
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) })
    .showHelpAfterError('(add --help for usage)');

  program
    .command('create-image')
    .description(
      'build a guest: disk and swap images, Debian installed, /etc/xen/NAME.cfg (xen-create-image options)',
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[options...]', 'xen-create-image options; see `xenkit create-image --help`')
    .action(async (args: string[]) => {
      const streams = { stdout: io.stdout, stderr: io.stderr, stdin: process.stdin };
      const code = await runCreateImage(args, streams, deps.env ?? process.env, setJson);
      if (code !== 0) process.exitCode = code;
    });

  addImageCommands(program, { io, prog: 'xenkit', ...(deps.env ? { env: deps.env } : {}) });
  addDomainCommands(program, { ...deps, prog: 'xenkit' });
  addBackupCommands(program, { io, prog: 'xenkit', ...(deps.env ? { env: deps.env } : {}) });
  addCacheCommands(program, { io, ...(deps.env ? { env: deps.env } : {}) });
  addDoctorCommand(program, { io, ...(deps.env ? { env: deps.env } : {}) });
  addDetectCommand(program, { io });
  addHostsCommands(program, { io, ...(deps.env ? { env: deps.env } : {}) });
  return program;
}

/** Runs `xenkit` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: DomainCommandIO,
  deps: Partial<DomainCommandDeps> = {},
): Promise<number> {
  const streams: DomainCommandIO = io ?? processIO();
  const args = argv.length === 0 ? ['--help'] : argv;
  let json = args.includes('--json');
  return runCli(
    'xenkit',
    async () => {
      process.exitCode = undefined;
      await buildXenkitProgram({ ...deps, io: streams }, (on) => (json = on)).parseAsync(args, {
        from: 'user',
      });
      return typeof process.exitCode === 'number' ? process.exitCode : 0;
    },
    { io: streams, wantsJson: () => json },
  );
}

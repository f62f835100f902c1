/** `xm`: the seed's toolstack commands over whichever hypervisor driver this host has. */
import { Command } from 'commander';
import { addDomainCommands, processIO, type DomainCommandDeps, type DomainCommandIO } from '../xm/index.js';
import { runCli } from '../run-cli.js';

/** Builds the `xm` program; output goes to `deps.io`. */
export function buildXmProgram(deps: DomainCommandDeps): Command {
  const { io } = deps;
  const program = new Command('xm')
    .description(
      'Manage domains (guests) the way xm did: create -c, list, console, shutdown, destroy, ' +
        'vcpu-set, mem-set, autostart... over Xen xl on a dom0, or QEMU (KVM, else TCG) elsewhere. ' +
        'Every command takes --root DIR (or XENKIT_ROOT) and --driver xl|qemu (or XENKIT_DRIVER).',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)');
  addDomainCommands(program, { prog: 'xm', ...deps });
  return program;
}

/** Runs `xm` with the given arguments and returns the exit status; tests pass their own streams and deps. */
export async function main(
  argv: string[],
  io?: DomainCommandIO,
  deps: Partial<DomainCommandDeps> = {},
): Promise<number> {
  const streams: DomainCommandIO = io ?? processIO();
  const args = argv.length === 0 ? ['--help'] : argv;
  return runCli(
    'xm',
    async () => {
      await buildXmProgram({ ...deps, io: streams }).parseAsync(args, { from: 'user' });
    },
    { io: streams, wantsJson: () => args.includes('--json') },
  );
}

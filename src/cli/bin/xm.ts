/** `xm`: entry point. */
import { Command } from 'commander';
import { notImplemented } from '../not-implemented.js';
import { runCli } from '../run-cli.js';

/** Runs `xm` with the given arguments and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  return runCli('xm', async () => {
    const program = new Command('xm')
      .description('xm (not implemented yet)')
      .exitOverride()
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => notImplemented('xm'));
    await program.parseAsync(argv, { from: 'user' });
  });
}

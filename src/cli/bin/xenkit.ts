/** `xenkit`: the umbrella command. */
import { Command } from 'commander';
import { notImplemented } from '../not-implemented.js';
import { runCli } from '../run-cli.js';

/** Runs `xenkit` with the given arguments and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  return runCli('xenkit', async () => {
    const program = new Command('xenkit')
      .description('Create and run Xen-style virtual machines')
      .exitOverride()
      .action(() => notImplemented('xenkit'));
    await program.parseAsync(argv, { from: 'user' });
  });
}

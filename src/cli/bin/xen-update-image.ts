/** `xen-update-image`: entry point. */
import { Command } from 'commander';
import { notImplemented } from '../not-implemented.js';
import { runCli } from '../run-cli.js';

/** Runs `xen-update-image` with the given arguments and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  return runCli('xen-update-image', async () => {
    const program = new Command('xen-update-image')
      .description('xen-update-image (not implemented yet)')
      .exitOverride()
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => notImplemented('xen-update-image'));
    await program.parseAsync(argv, { from: 'user' });
  });
}

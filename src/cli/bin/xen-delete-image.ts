/** `xen-delete-image`: entry point. */
import { Command } from 'commander';
import { notImplemented } from '../not-implemented.js';
import { runCli } from '../run-cli.js';

/** Runs `xen-delete-image` with the given arguments and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  return runCli('xen-delete-image', async () => {
    const program = new Command('xen-delete-image')
      .description('xen-delete-image (not implemented yet)')
      .exitOverride()
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => notImplemented('xen-delete-image'));
    await program.parseAsync(argv, { from: 'user' });
  });
}

/** `xen-create-image`: entry point. */
import { Command } from 'commander';
import { notImplemented } from '../not-implemented.js';
import { runCli } from '../run-cli.js';

/** Runs `xen-create-image` with the given arguments and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  return runCli('xen-create-image', async () => {
    const program = new Command('xen-create-image')
      .description('xen-create-image (not implemented yet)')
      .exitOverride()
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => notImplemented('xen-create-image'));
    await program.parseAsync(argv, { from: 'user' });
  });
}

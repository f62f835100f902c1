/** `xen-list-images`: entry point. */
import { Command } from 'commander';
import { notImplemented } from '../not-implemented.js';
import { runCli } from '../run-cli.js';

/** Runs `xen-list-images` with the given arguments and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  return runCli('xen-list-images', async () => {
    const program = new Command('xen-list-images')
      .description('xen-list-images (not implemented yet)')
      .exitOverride()
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => notImplemented('xen-list-images'));
    await program.parseAsync(argv, { from: 'user' });
  });
}

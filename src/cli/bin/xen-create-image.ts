/** `xen-create-image`: the xen-tools-compatible front-end (Getopt-style options, not commander). */
import { runCreateImage, type CreateImageIO } from '../create-image.js';
import { runCli } from '../run-cli.js';

/** Runs `xen-create-image` with the given arguments and returns the exit status. */
export async function main(
  argv: string[],
  io?: Partial<CreateImageIO>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const streams: CreateImageIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    ...io,
  };
  let json = argv.includes('--json');
  return runCli('xen-create-image', () => runCreateImage(argv, streams, env, (on) => (json = on)), {
    io: streams,
    wantsJson: () => json,
  });
}

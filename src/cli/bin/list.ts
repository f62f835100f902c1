/**
 * The listing commands alone: what the small bundle (dist/bundle/list.cjs) that bin/xm.js and
 * bin/xen-list-images.js load is built from. Node's start and the whole CLI's compile would be
 * most of a listing's time; these modules import no command framework and no other verb.
 */
import { runCli } from '../run-cli.js';
import { processIO, type DomainCommandDeps, type DomainCommandIO } from '../xm/deps.js';
import { parsePlainListArgs, runListCommand } from '../xm/list.js';

export { main as xenListImages } from './xen-list-images.js';

/**
 * Runs `xm list ARGV` and returns the exit status, when ARGV is a plain command line
 * (parsePlainListArgs); otherwise returns undefined before doing anything, for the whole `xm`.
 */
export async function xmList(
  argv: string[],
  io?: DomainCommandIO,
  deps: Partial<DomainCommandDeps> = {},
): Promise<number | undefined> {
  const plain = parsePlainListArgs(argv);
  if (!plain) return undefined;
  const streams = io ?? processIO();
  return runCli('xm', () => runListCommand({ ...deps, io: streams }, plain.names, plain.flags), {
    io: streams,
    wantsJson: () => argv.includes('--json'),
  });
}

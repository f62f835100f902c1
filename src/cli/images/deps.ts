/** What the image commands need from outside: streams and the environment. */
import { exitCodeFor, XenkitError } from '../../errors.js';
import { printError, type CliIO } from '../run-cli.js';
import { makePaths, resolveRoot, type Paths } from '../../paths.js';

export interface ImageCommandDeps {
  io: CliIO;
  /** The program name used in hints (`xenkit`). */
  prog?: string;
  /** Environment read for XENKIT_ROOT. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The xl binary for the running check; false skips it (tests). */
  xl?: string | false;
}

/** The paths for a `--root` flag (else XENKIT_ROOT, else `/`). */
export function pathsFor(deps: ImageCommandDeps, root: string | undefined): Paths {
  return makePaths(resolveRoot(root, deps.env ?? process.env));
}

/** Writes `value` as indented JSON and a newline. */
export function writeJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Runs `each` for every guest in turn: one that fails (running, missing, broken) is reported,
 * with xen-tools' own words for a running guest, and the others still go. Prints the JSON
 * summary `{ok, guests}` when `run.json`; returns the worst exit status.
 */
export async function forEachGuest(
  run: { names: string[]; json: boolean; prog: string },
  io: CliIO,
  each: (name: string, results: Record<string, unknown>[]) => Promise<number>,
): Promise<number> {
  const results: Record<string, unknown>[] = [];
  let status = 0;
  for (const name of run.names) {
    try {
      status = Math.max(status, await each(name, results));
    } catch (error) {
      status = Math.max(status, exitCodeFor(error));
      if (error instanceof XenkitError && error.code === 'E_RUNNING' && !run.json) {
        // xen-tools' own words, so scripts that look for them keep working; then the evidence.
        io.stdout.write(`Skipping xen guest '${name}' - it appears to be running.\n`);
        printError(run.prog, error, io, false);
      } else if (!run.json) printError(run.prog, error, io, false);
      results.push({
        name,
        ok: false,
        error: error instanceof XenkitError ? error.toJSON() : { message: String(error) },
      });
    }
  }
  if (run.json) writeJson(io, { ok: status === 0, guests: results });
  return status;
}

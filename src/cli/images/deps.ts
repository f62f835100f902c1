/** What the image commands need from outside: streams and the environment. */
import type { CliIO } from '../run-cli.js';
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

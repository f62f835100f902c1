/** `xen-update-image`: the xen-tools-compatible front-end of `xenkit update-image` (same option table). */
import { runXenToolsCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { UPDATE_IMAGE } from '../images/update-image.js';
import type { CliIO } from '../run-cli.js';

/** Runs `xen-update-image` with the given arguments and returns the exit status. */
export function main(argv: string[], io?: CliIO, deps: Partial<ImageCommandDeps> = {}): Promise<number> {
  return runXenToolsCommand(UPDATE_IMAGE, argv, io, deps);
}

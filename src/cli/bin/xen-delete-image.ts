/** `xen-delete-image`: the xen-tools-compatible front-end of `xenkit delete-image` (same option table). */
import { runXenToolsCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { DELETE_IMAGE } from '../images/delete-image.js';
import type { CliIO } from '../run-cli.js';

/** Runs `xen-delete-image` with the given arguments and returns the exit status. */
export function main(argv: string[], io?: CliIO, deps: Partial<ImageCommandDeps> = {}): Promise<number> {
  return runXenToolsCommand(DELETE_IMAGE, argv, io, deps);
}

/** `xen-resize-guest`: the xen-tools-compatible front-end of `xenkit resize-image` (same option table). */
import { runXenToolsCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { RESIZE_IMAGE } from '../images/resize-image.js';
import type { CliIO } from '../run-cli.js';

/** Runs `xen-resize-guest` with the given arguments and returns the exit status. */
export function main(argv: string[], io?: CliIO, deps: Partial<ImageCommandDeps> = {}): Promise<number> {
  return runXenToolsCommand(RESIZE_IMAGE, argv, io, deps);
}

/** `xen-list-images`: the xen-tools-compatible front-end of `xenkit list-images` (same option table). */
import { runXenToolsCommand } from '../images/compat-main.js';
import type { ImageCommandDeps } from '../images/deps.js';
import { LIST_IMAGES } from '../images/list-images.js';
import type { CliIO } from '../run-cli.js';

/** Runs `xen-list-images` with the given arguments and returns the exit status. */
export function main(argv: string[], io?: CliIO, deps: Partial<ImageCommandDeps> = {}): Promise<number> {
  return runXenToolsCommand(LIST_IMAGES, argv, io, deps);
}

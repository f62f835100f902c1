/** cp: copy a root tree into a mounted filesystem, keeping everything a root filesystem needs. */
import { runCommand, type ExecOptions } from './exec.js';

/**
 * The argv that copies the CONTENTS of `source` (and its own mode/owner) into `target`.
 * `--archive` keeps modes, owners, times, hard links, devices, fifos and symlinks; the explicit
 * `--preserve=xattr` makes a lost xattr (capabilities, ACLs) an error, which `-a` alone ignores;
 * `--sparse=auto` keeps holes where the source has them.
 */
export function copyTreeArgv(source: string, target: string): string[] {
  return [
    'cp',
    '--archive',
    '--preserve=xattr',
    '--sparse=auto',
    '--',
    `${source.replace(/\/+$/, '')}/.`,
    target,
  ];
}

/** Copies the tree at `source` into the directory `target`. */
export async function copyTree(source: string, target: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(copyTreeArgv(source, target), options);
}

/**
 * The argv that copies one image file keeping its holes (`--sparse=always` also punches holes
 * where the source has runs of zeros) and sharing extents where the filesystem can (reflink).
 */
export function copyImageArgv(source: string, target: string): string[] {
  return ['cp', '--sparse=always', '--reflink=auto', '--', source, target];
}

/** Copies an image file sparsely (see copyImageArgv). */
export async function copyImage(source: string, target: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(copyImageArgv(source, target), options);
}

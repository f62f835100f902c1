/** fallocate: reserve every block of an image file up front (`image = full`). */
import { runCommand, type ExecOptions } from './exec.js';

/** The argv that allocates `length` bytes of `path`. */
export function fallocateArgv(path: string, length: number): string[] {
  return ['fallocate', '--length', String(length), path];
}

/** Allocates `length` bytes of `path`; throws E_EXEC (stderr says why: ENOSPC, EOPNOTSUPP). */
export async function allocateFile(path: string, length: number, options: ExecOptions = {}): Promise<void> {
  await runCommand(fallocateArgv(path, length), options);
}

/** The argv that inserts `length` bytes of hole at `offset`, shifting the rest of the file up. */
export function insertRangeArgv(path: string, offset: number, length: number): string[] {
  return ['fallocate', '--insert-range', '--offset', String(offset), '--length', String(length), path];
}

/**
 * Inserts a hole of `length` bytes at `offset` without copying (ext4 and xfs; EOPNOTSUPP
 * elsewhere, e.g. tmpfs and btrfs); both must be multiples of the filesystem's block size.
 */
export async function insertFileRange(
  path: string,
  offset: number,
  length: number,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(insertRangeArgv(path, offset, length), options);
}

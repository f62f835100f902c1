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

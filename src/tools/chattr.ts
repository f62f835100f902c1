/** chattr/lsattr: the immutable flag that keeps even root from changing a linked-clone base. */
import { runCommand, type ExecOptions } from './exec.js';

/** The argv that sets (`+i`) or clears (`-i`) the immutable flag of `file`. */
export function setImmutableArgv(file: string, on: boolean): string[] {
  return ['chattr', on ? '+i' : '-i', '--', file];
}

/**
 * Sets or clears the immutable flag; returns false when the filesystem has no such flag (tmpfs,
 * some network filesystems), where the caller falls back to permission bits alone.
 */
export async function setImmutable(file: string, on: boolean, options: ExecOptions = {}): Promise<boolean> {
  const result = await runCommand(setImmutableArgv(file, on), { ...options, allowFailure: true });
  if (result.exitCode === 0) return true;
  if (/Operation not supported|Inappropriate ioctl/i.test(result.stderr)) return false;
  await runCommand(setImmutableArgv(file, on), options);
  return true;
}

/** Whether `file` carries the immutable flag (`lsattr -d`). */
export async function isImmutable(file: string, options: ExecOptions = {}): Promise<boolean> {
  const result = await runCommand(['lsattr', '-d', '--', file], { ...options, allowFailure: true });
  if (result.exitCode !== 0) return false;
  return (result.stdout.trim().split(/\s+/)[0] ?? '').includes('i');
}

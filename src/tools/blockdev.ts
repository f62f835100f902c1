/** blockdev: the size of a block device (its stat says 0; BLKGETSIZE64 is what blockdev asks). */
import { runtimeError } from '../errors.js';
import { runCommand, type ExecOptions } from './exec.js';

/** The argv that prints the size of `device` in bytes. */
export function deviceSizeArgv(device: string): string[] {
  return ['blockdev', '--getsize64', device];
}

/** The size of the block device `device` in bytes. */
export async function readDeviceSize(device: string, options: ExecOptions = {}): Promise<number> {
  const out = (await runCommand(deviceSizeArgv(device), options)).stdout.trim();
  if (!/^\d+$/.test(out)) {
    throw runtimeError('E_EXEC', `blockdev --getsize64 ${device} printed "${out}"`, 'is it a block device?');
  }
  return Number(out);
}

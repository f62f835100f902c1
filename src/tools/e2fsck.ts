/** e2fsck: a forced check of an unmounted ext2/3/4 filesystem (tune2fs -U needs one first). */
import { runCommand, type ExecOptions } from './exec.js';

/** The argv of a forced, non-interactive check that repairs what is safe to repair. */
export function checkExtArgv(device: string): string[] {
  return ['e2fsck', '-f', '-p', device];
}

/** Checks the filesystem on `device`; exit 1 ("errors corrected") counts as success. */
export async function checkExtFs(device: string, options: ExecOptions = {}): Promise<void> {
  const result = await runCommand(checkExtArgv(device), { ...options, allowFailure: true });
  if (result.exitCode === 0 || result.exitCode === 1) return;
  await runCommand(checkExtArgv(device), options);
}

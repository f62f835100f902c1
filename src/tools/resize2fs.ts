/** resize2fs: grow (or shrink) an unmounted ext2/3/4 filesystem to the size of its image file. */
import { runCommand, type ExecOptions } from './exec.js';

/**
 * The argv that resizes the filesystem on `device` to fill it. `-f` skips the "run e2fsck -f
 * first" check, which only makes sense for a filesystem that was ever mounted: the caller
 * passes a freshly made one.
 */
export function resizeExtFsArgv(device: string): string[] {
  return ['resize2fs', '-f', device];
}

/** Resizes the unmounted ext filesystem on `device` to the device's (or image file's) size. */
export async function resizeExtFs(device: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(resizeExtFsArgv(device), options);
}

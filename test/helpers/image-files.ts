/** Reads files out of a guest disk image without booting it (debugfs for ext*, a read-only loop mount otherwise). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The filesystem type of an image, from blkid. */
export function imageFsType(image: string): string {
  return execFileSync('blkid', ['-o', 'value', '-s', 'TYPE', image], { encoding: 'utf8' }).trim();
}

/** Filesystem UUID of an image (or swap image). */
export function imageUuid(image: string): string {
  return execFileSync('blkid', ['-o', 'value', '-s', 'UUID', image], { encoding: 'utf8' }).trim();
}

/**
 * Mounts the image read-only on a temporary directory, runs `fn` with the mount point, and always
 * unmounts and detaches again.
 */
export function withMountedImage<T>(image: string, fn: (root: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-img-'));
  execFileSync('mount', ['-o', 'ro,loop', image, dir]);
  try {
    return fn(dir);
  } finally {
    execFileSync('umount', [dir]);
    fs.rmdirSync(dir);
  }
}

/** Free space on the filesystem that will hold an image, checked before writing anything. */
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { XenkitError, runtimeError } from '../errors.js';
import { formatSize } from '../model/size.js';

/** Bytes an unprivileged writer may still use on the filesystem holding `dir` (or its nearest existing ancestor). */
export async function readFreeSpace(dir: string): Promise<number> {
  let current = path.resolve(dir);
  for (;;) {
    try {
      const stats = await statfs(current);
      return Number(stats.bavail) * Number(stats.bsize);
    } catch (error) {
      const parent = path.dirname(current);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw error;
      current = parent;
    }
  }
}

/** Throws E_NO_SPACE up front when the filesystem holding `dir` has less than `bytesNeeded` free. */
export async function checkFreeSpace(dir: string, bytesNeeded: number): Promise<void> {
  const free = await readFreeSpace(dir);
  if (free < bytesNeeded) {
    throw runtimeError(
      'E_NO_SPACE',
      `${dir}: ${humanSize(bytesNeeded)} needed but only ${humanSize(free)} free`,
      'free some space, choose another --dir, or use --image=sparse',
    );
  }
}

/** Whether an error (a Node errno error or a failed command's output) means the disk is full. */
export function isNoSpaceError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  if (error instanceof XenkitError) {
    return /No space left on device|Disk quota exceeded|ENOSPC|EDQUOT/i.test(
      `${error.message}\n${error.details ?? ''}`,
    );
  }
  return false;
}

/** The E_NO_SPACE error for `target`, naming how much room is left where it lives. */
export async function noSpaceError(target: string, cause: unknown): Promise<XenkitError> {
  const free = await readFreeSpace(path.dirname(target)).catch(() => undefined);
  const left = free === undefined ? '' : ` (${humanSize(free)} free)`;
  return runtimeError(
    'E_NO_SPACE',
    `${target}: no space left on the device${left}`,
    'free some space or choose another --dir',
    cause,
  );
}

/** A size for messages: the exact xen-tools form when whole, else MiB with one decimal. */
export function humanSize(bytes: number): string {
  const exact = formatSize(bytes);
  if (!exact.endsWith('B') && !exact.endsWith('K')) return exact;
  return `${(bytes / 1024 ** 2).toFixed(1)}M`;
}

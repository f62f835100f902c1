/** Checks on filesystem parameters, reported all at once before anything is formatted. */
import { ErrorCollector } from '../errors.js';
import type { FsType } from '../model/guest-spec.js';
import { MIN_SIZE } from '../model/fs-limits.js';
import { humanSize } from './free-space.js';

export { MIN_SIZE };

/** Longest label each mkfs accepts, in bytes. */
export const LABEL_MAX: Record<FsType | 'swap', number> = {
  ext2: 16,
  ext3: 16,
  ext4: 16,
  xfs: 12,
  btrfs: 255,
  swap: 16,
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` is a UUID in the 8-4-4-4-12 hex form every mkfs takes. */
export function isUuid(text: string): boolean {
  return UUID_RE.test(text);
}

export interface FsParameters {
  target: string;
  fs: FsType | 'swap';
  uuid?: string | undefined;
  label?: string | undefined;
  sizeBytes?: number | undefined;
}

/** Collects every problem with the parameters (bad UUID, label too long, size too small). */
export function checkFsParameters(params: FsParameters): ErrorCollector {
  const errors = new ErrorCollector();
  const { target, fs, uuid, label, sizeBytes } = params;
  if (uuid !== undefined && !isUuid(uuid)) {
    errors.add('E_UUID', `${target}: UUID "${uuid}" is not a UUID`, 'write it as 8-4-4-4-12 hex digits');
  }
  if (label !== undefined && Buffer.byteLength(label) > LABEL_MAX[fs]) {
    errors.add(
      'E_LABEL',
      `${target}: label "${label}" is longer than the ${LABEL_MAX[fs]} bytes ${fs} allows`,
      'choose a shorter label',
    );
  }
  const min = fs === 'swap' ? 40 * 1024 : MIN_SIZE[fs];
  if (sizeBytes !== undefined && min !== undefined && sizeBytes < min) {
    errors.add(
      'E_SIZE',
      `${target}: ${humanSize(sizeBytes)} is too small for ${fs} (at least ${humanSize(min)})`,
      `use --size of at least ${humanSize(min)}, or another --fs`,
    );
  }
  return errors;
}

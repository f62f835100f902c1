/** Limits of the filesystems xenkit makes, known before anything is formatted. */
import type { FsType } from './guest-spec.js';

/** Smallest filesystem each mkfs (as shipped in Debian 12) will make, in bytes. */
export const MIN_SIZE: Partial<Record<FsType, number>> = {
  // xfsprogs >= 5.19 refuses filesystems under 300 MiB ("Filesystem must be larger than 300MB").
  xfs: 300 * 1024 ** 2,
  // mkfs.btrfs 6.2 with its default DUP metadata stops below 109 MiB.
  btrfs: 109 * 1024 ** 2,
};

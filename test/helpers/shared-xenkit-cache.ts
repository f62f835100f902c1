/**
 * The run's shared xenkit cache. xen-create-image bootstraps the first guest of a package set
 * into `<root>/var/cache/xenkit/rootfs` (its packages into `.../archives`) and makes every guest,
 * that one included, from the cached image. Test files whose subject is the guest, not the
 * bootstrap (which the install and rootfs-cache root tests check cold), link their scratch root's
 * cache directory to one directory for the whole run, so that only the first of them runs
 * mmdebstrap (1.5 to 2 minutes under load) and the others start from its entry. xenkit refuses a
 * symbolic link as its cache's rootfs directory, not above it; the shared directory is root's,
 * mode 0700.
 */
import fs from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

/** Links `root`'s xenkit cache directory to the run's shared one (before the first xen-create-image). */
export function shareXenkitCache(root: string): void {
  const link = path.join(root, 'var/cache/xenkit');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(inject('sharedXenkitCache'), link);
}

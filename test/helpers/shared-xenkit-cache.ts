/**
 * The run's shared xenkit cache. xen-create-image bootstraps the first guest of a package set
 * into `<root>/var/cache/xenkit/rootfs` (its packages into `.../archives`) and makes every guest,
 * that one included, from the cached image. Test files whose subject is the guest, not the
 * bootstrap, link their scratch root's cache directory to one directory for the whole run, so
 * that the guests of the default package set need one bootstrap per run (1.5 to 2 minutes under
 * load), not one per file. The rootfs-cache root test, whose subject is the cold bootstrap, keeps
 * a cache of its own, runs first (see vitest.config.ts) and then seeds the shared cache with the
 * entry it built. xenkit refuses a symbolic link as its cache's rootfs directory, not above it;
 * the shared directory is root's, mode 0700.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';

/** Links `root`'s xenkit cache directory to the run's shared one (before the first xen-create-image). */
export function shareXenkitCache(root: string): void {
  const link = path.join(root, 'var/cache/xenkit');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(inject('sharedXenkitCache'), link);
}

/**
 * Copies the root-tree cache entries of `root` that the shared cache lacks into it (each under a
 * hidden name, then renamed into place, as xenkit publishes its own). Returns the keys copied.
 */
export function seedSharedRootfsCache(root: string): string[] {
  const from = path.join(root, 'var/cache/xenkit/rootfs');
  const to = path.join(inject('sharedXenkitCache'), 'rootfs');
  fs.mkdirSync(to, { recursive: true, mode: 0o700 });
  const keys = fs
    .readdirSync(from)
    .filter((key) => !key.startsWith('.') && fs.existsSync(path.join(from, key, 'manifest.json')))
    .filter((key) => !fs.existsSync(path.join(to, key)));
  for (const key of keys) {
    const partial = path.join(to, `.seed-${key}`);
    execFileSync('cp', ['-a', '--sparse=always', path.join(from, key), partial]);
    fs.renameSync(partial, path.join(to, key));
  }
  return keys;
}

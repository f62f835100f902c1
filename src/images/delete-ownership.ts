/**
 * What delete may remove as the guest's own: the rule that keeps xen-delete-image from removing
 * anything xenkit cannot prove it made. The guest's directory is DIR/domains/NAME only when it
 * has the shape xen-create-image gives it, is a real directory and lies inside the root; a disk
 * goes only when it resolves into that directory; a directory holding another guest's image is
 * refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import { underRoot, type Paths } from '../paths.js';
import { isPresent, type GuestDisk } from './guest-files.js';

/** The guest's own directory, or why there is none that delete may remove. */
export type GuestDir =
  { path: string; real: string } | { path: string | undefined; real: undefined; why: string };

/**
 * The guest's own directory DIR/domains/NAME, the only directory delete removes with what is in
 * it. With `--dir` (or xen-tools.conf's `dir`) it is DIR/domains/NAME, exactly what xen-tools
 * removes. Without (or when that does not exist) it is derived from the cfg's disks, as xen-tools
 * users expect of `xen-delete-image NAME`, but a disk's parent is trusted only when it has the
 * shape xen-create-image gives it: its last component is NAME (the name the command was given,
 * the cfg's file name) and its parent is called `domains`. Anything else (images in
 * /var/lib/images, a data disk beside other guests' disks, /etc) may be shared or not ours, so
 * then no directory is removed and the disks are reported instead. Either way the directory must
 * be a real directory (xenkit never makes a symlink there: one may point into another guest) and
 * lie inside the root once symlinks are resolved; `real` is that resolved path, against which
 * every disk is checked.
 */
export function guestDirOf(
  paths: Paths,
  name: string,
  diskPaths: readonly string[],
  dir: string | undefined,
): GuestDir {
  const given = dir ? path.join(underRoot(paths, dir), 'domains', name) : undefined;
  const derived = diskPaths
    .map((d) => path.dirname(d))
    .find((p) => path.basename(p) === name && path.basename(path.dirname(p)) === 'domains');
  const candidate = given && isPresent(given) ? given : (derived ?? given);
  if (!candidate)
    return { path: undefined, real: undefined, why: 'no DIR/domains/NAME directory (give --dir)' };
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(candidate);
  } catch {
    return { path: candidate, real: undefined, why: `${candidate} does not exist` };
  }
  if (!stat.isDirectory()) {
    const what = stat.isSymbolicLink() ? 'a symlink' : 'not a directory';
    return { path: candidate, real: undefined, why: `${candidate} is ${what}` };
  }
  const real = fs.realpathSync(candidate);
  const root = fs.realpathSync(paths.root);
  if (root !== '/' && !isInside(real, root)) {
    return {
      path: candidate,
      real: undefined,
      why: `${candidate} resolves to ${real}, outside the root ${root}`,
    };
  }
  return { path: candidate, real };
}

/** Whether `file` is strictly below the directory `dir` (both already resolved). */
function isInside(file: string, dir: string): boolean {
  return file.startsWith(dir === '/' ? '/' : dir + path.sep) && file !== dir;
}

/** The resolved path of `file`, or undefined when it cannot be resolved (missing, a loop). */
function realpathOf(file: string): string | undefined {
  try {
    return fs.realpathSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Why a disk of the cfg that is not one of the guest's volumes stays (undefined: it goes with the
 * guest's directory, or it does not exist).
 */
export function whyDiskKept(
  disk: Pick<GuestDisk, 'path' | 'exists'>,
  guestDir: GuestDir,
): string | undefined {
  if (!disk.exists) return undefined;
  const mine = 'xenkit deletes only what it made';
  const real = realpathOf(disk.path);
  if (guestDir.real !== undefined) {
    // Whatever resolves into the guest's directory goes with it; a dangling link there too.
    if (real ? isInside(real, guestDir.real) : disk.path.startsWith(guestDir.path + path.sep))
      return undefined;
  }
  if (!real) return `cannot be resolved (a dangling symlink?); ${mine}`;
  if (!fs.statSync(real).isFile()) {
    return `a device that is not one of the guest's volumes (/dev/VG/NAME-*); ${mine}`;
  }
  if (guestDir.real === undefined) return `not in a guest directory xenkit made (${guestDir.why}); ${mine}`;
  if (real !== disk.path) return `resolves to ${real}, outside ${guestDir.path}; ${mine}`;
  return `outside the guest's directory ${guestDir.path}; ${mine}`;
}

/** Refuses (E_SHARED_IMAGE) when another guest's cfg names an image inside this guest's directory. */
export function refuseSharedImages(
  name: string,
  guestDir: GuestDir,
  others: ReadonlyMap<string, string>,
): void {
  if (guestDir.real === undefined) return;
  for (const [image, owner] of others) {
    const real = realpathOf(image);
    if (!real || !isInside(real, guestDir.real)) continue;
    throw usageError(
      'E_SHARED_IMAGE',
      `guest "${name}": ${guestDir.path} holds ${image}, which the guest "${owner}" uses too; deleting it breaks that guest`,
      `change ${owner}'s disk line first, or pass --force to delete it anyway`,
    );
  }
}

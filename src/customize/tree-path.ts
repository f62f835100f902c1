/**
 * Paths inside a guest root tree, resolved the way the guest would resolve them: a symlink in the
 * tree (`/etc/resolv.conf -> /run/...`, `/lib -> usr/lib`) is followed relative to the tree, never
 * to the host, so writing "into the guest" can never land on a host file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';

const MAX_SYMLINK_HOPS = 40;

/**
 * Resolves `guestPath` (absolute inside the guest) to a guest path whose every parent directory is
 * a real directory (or missing). The last component is followed only when `followLast` is true.
 */
export function resolveGuestPath(root: string, guestPath: string, followLast = false): string {
  let pending = splitPath(guestPath);
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending[0] as string;
    pending = pending.slice(1);
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    if (pending.length === 0 && !followLast) {
      resolved.push(part);
      break;
    }
    const hostPath = path.join(root, ...resolved, part);
    const target = readLinkOrUndefined(hostPath);
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++hops > MAX_SYMLINK_HOPS) {
      throw runtimeError(
        'E_TREE_PATH',
        `guest path "${guestPath}" has too many levels of symlinks in ${root}`,
      );
    }
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...splitPath(target), ...pending];
  }
  return `/${resolved.join('/')}`;
}

/** The host path of a guest path, with every symlink in its parents resolved inside the tree. */
export function hostPathInTree(root: string, guestPath: string, followLast = false): string {
  return path.join(root, resolveGuestPath(root, guestPath, followLast));
}

function splitPath(p: string): string[] {
  return p.split('/').filter((part) => part.length > 0);
}

function readLinkOrUndefined(hostPath: string): string | undefined {
  try {
    const stat = fs.lstatSync(hostPath);
    return stat.isSymbolicLink() ? fs.readlinkSync(hostPath) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Guest names become path components everywhere: `/etc/xen/NAME.cfg`, `DIR/domains/NAME`,
 * `/var/log/xen-tools/NAME.log`, `run/xenkit/qemu/NAME`, `run/xenkit/lock/guest-NAME.lock`, and
 * temporaries such as `NAME.cfg.xenkit-new-XXXXXXXX`. A name is checked as one component before
 * any of those paths is built, so `../../etc` or `a/b` can never steer a write or a removal.
 */
import { usageError, type XenkitError } from '../errors.js';

/**
 * Longest name accepted: a path component is at most 255 bytes, and xenkit puts up to ~40
 * bytes of decoration around the name (`.xenkit-tree-NAME-xxxxxxxx`, `guest-NAME.lock`,
 * `NAME.cfg.xenkit-old-xxxxxxxx`).
 */
export const GUEST_NAME_MAX = 200;

// Letters, digits, '_', '.', '-' (hostnames, FQDNs and the usual xl domain names); not starting
// with '.' (hidden files and xenkit's own temporaries) or '-' (would read as an option in argv).
const GUEST_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Why `name` cannot be a guest name, or undefined when it can. */
export function guestNameProblem(name: string): string | undefined {
  // A name the pattern takes is ASCII, so its length is its byte length: one test for the common
  // case (a listing checks every guest's names).
  if (name.length <= GUEST_NAME_MAX && GUEST_NAME_RE.test(name)) return undefined;
  if (name.length === 0) return 'is empty';
  if (Buffer.byteLength(name) > GUEST_NAME_MAX) return `is longer than ${GUEST_NAME_MAX} characters`;
  if (name.includes('/')) return "contains '/' (a guest name is one file name, not a path)";
  if (name === '.' || name === '..') return 'is not a name';
  if (!GUEST_NAME_RE.test(name)) {
    return "may hold only letters, digits, '_', '.' and '-', and must not start with '.' or '-'";
  }
  return undefined;
}

/** The usage error for a bad guest name `name` found in `where` (an option, a cfg file, ...). */
export function guestNameError(name: string, where: string): XenkitError | undefined {
  const problem = guestNameProblem(name);
  if (problem === undefined) return undefined;
  return usageError(
    'E_GUEST_NAME',
    `${where}: guest name ${JSON.stringify(name)} ${problem}`,
    "use a plain name such as web1 or web1.example.org (letters, digits, '_', '.', '-')",
  );
}

/** Returns `name` when it is a valid guest name; throws E_GUEST_NAME (exit 2) naming `where` otherwise. */
export function assertGuestName(name: string, where: string): string {
  const error = guestNameError(name, where);
  if (error) throw error;
  return name;
}

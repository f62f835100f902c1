/**
 * Directories xenkit keeps its own state in (locks, address claims, staging): made with a safe
 * mode and checked before use, so another user cannot have made them first and then block runs,
 * remove root's locks or swap what xenkit writes there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';

/** Why `dir` is not safe to keep xenkit's state in; undefined when it is. */
export function ownDirProblem(dir: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  if (st.isSymbolicLink()) return 'is a symbolic link';
  if (!st.isDirectory()) return 'is not a directory';
  // Root's own directories are trusted by everyone (an unprivileged run then fails to write there).
  const euid = process.geteuid?.();
  if (euid !== undefined && st.uid !== euid && st.uid !== 0) {
    return `is owned by uid ${st.uid}, neither root nor this run's uid ${euid}`;
  }
  if ((st.mode & 0o022) !== 0) return `is writable by ${st.mode & 0o002 ? 'every user' : 'its group'}`;
  // A parent anyone may write to lets them rename the directory away, unless it is sticky (/tmp).
  const parent = path.dirname(dir);
  if (parent !== dir) {
    const up = fs.statSync(parent);
    if ((up.mode & 0o002) !== 0 && (up.mode & 0o1000) === 0)
      return `is in ${parent}, which every user may change`;
  }
  return undefined;
}

/**
 * Creates `dir` (and missing parents) with `mode`, then checks it: a directory, not a symbolic
 * link, owned by root or this run's user, writable by its owner only. Throws E_UNSAFE_DIR naming it.
 */
export function ensureOwnDir(dir: string, mode = 0o755): void {
  fs.mkdirSync(dir, { recursive: true, mode });
  const problem = ownDirProblem(dir);
  if (problem === undefined) return;
  throw runtimeError(
    'E_UNSAFE_DIR',
    `${dir} ${problem}: xenkit keeps its locks and state only in a directory that it alone can change`,
    `check who made it; if it holds nothing you need, remove it (rm -r ${dir}) and xenkit makes it again`,
  );
}

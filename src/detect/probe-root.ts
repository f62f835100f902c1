/**
 * The directory that stands for `/` while detecting: `/` itself on a live machine, or a tree
 * captured from another machine (scripts/capture-detect.sh) in tests. Every reader takes paths
 * relative to it and gets `undefined` for what is missing or unreadable, never an exception.
 */
import { type Dirent, promises as fs } from 'node:fs';
import path from 'node:path';

/** Where the readers look. */
export interface ProbeRoot {
  dir: string;
  /** The running machine's own `/` (devices can be read, programs asked). */
  isLive: boolean;
}

/** A probe root for `dir` (default `/`, the live machine). */
export function probeRoot(dir = '/'): ProbeRoot {
  const resolved = path.resolve(dir);
  return { dir: resolved, isLive: resolved === '/' };
}

/** The absolute path of `rel` under the root. */
export function rootPath(root: ProbeRoot, rel: string): string {
  return path.join(root.dir, rel);
}

/** The text of `rel`, or undefined when it is missing or unreadable. */
export async function readRootText(root: ProbeRoot, rel: string): Promise<string | undefined> {
  try {
    return await fs.readFile(rootPath(root, rel), 'utf8');
  } catch {
    return undefined;
  }
}

/** Why `rel` could not be read: `absent`, `unreadable (EACCES)`, or undefined when it can be. */
export async function whyUnreadable(root: ProbeRoot, rel: string): Promise<string | undefined> {
  try {
    await fs.access(rootPath(root, rel), fs.constants.R_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'absent' : `unreadable (${code ?? 'error'})`;
  }
}

/** The entries of directory `rel`, sorted; empty when it is missing. */
export async function listRootDir(root: ProbeRoot, rel: string): Promise<Dirent[]> {
  try {
    const entries = await fs.readdir(rootPath(root, rel), { withFileTypes: true });
    return entries.sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    return [];
  }
}

/** Whether `rel` exists (a dangling symlink does not). */
export async function rootExists(root: ProbeRoot, rel: string): Promise<boolean> {
  try {
    await fs.stat(rootPath(root, rel));
    return true;
  } catch {
    return false;
  }
}

/**
 * Snapshots a directory tree with everything a root filesystem must keep (type, mode, owner,
 * rdev, size, content hash, symlink target, hard-link groups, xattrs, sparseness) and compares
 * two snapshots, returning every difference as a readable line.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../../src/tools/exec.js';

export interface EntrySnapshot {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  /** Permission bits including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** `major:minor` for device nodes. */
  rdev?: string;
  /** Byte size of files and symlinks (directory sizes differ between filesystems). */
  size?: number;
  sha256?: string;
  linkTarget?: string;
  /** Seconds; files only (directory times change as entries are added). */
  mtime?: number;
  /** Whether fewer bytes are allocated than the size (has holes). */
  sparse?: boolean;
  xattrs: Record<string, string>;
}

export interface TreeSnapshot {
  entries: Map<string, EntrySnapshot>;
  /** Paths sharing an inode, each group sorted, groups sorted. */
  hardLinkGroups: string[][];
}

export interface SnapshotOptions {
  /** Relative paths to leave out (with everything under them), e.g. `lost+found`. */
  ignore?: string[];
  /** xattr names to leave out: XFS shows ACLs a second time as `trusted.SGI_ACL_*`. */
  ignoreXattrs?: RegExp;
}

/** Reads every entry under `root` (the root itself is `.`). */
export async function snapshotTree(root: string, options: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const ignore = new Set(options.ignore ?? []);
  const ignoreXattrs = options.ignoreXattrs ?? /^trusted\.SGI_ACL_/;
  const xattrs = await readAllXattrs(root);
  const entries = new Map<string, EntrySnapshot>();
  const inodes = new Map<string, string[]>();
  const walk = async (rel: string): Promise<void> => {
    const full = path.join(root, rel);
    const st = await lstat(full);
    const entry: EntrySnapshot = {
      type: typeOf(st),
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      xattrs: Object.fromEntries(
        Object.entries(xattrs.get(rel) ?? {}).filter(([k]) => !ignoreXattrs.test(k)),
      ),
    };
    if (entry.type === 'char' || entry.type === 'block')
      entry.rdev = `${Math.floor(st.rdev / 256) & 0xfff}:${st.rdev & 0xff}`;
    if (entry.type === 'symlink') {
      entry.linkTarget = await readlink(full);
      entry.size = st.size;
    }
    if (entry.type === 'file') {
      entry.size = st.size;
      entry.sha256 = await hashFile(full);
      entry.mtime = Math.floor(st.mtimeMs / 1000);
      entry.sparse = st.blocks * 512 < st.size;
      if (st.nlink > 1) inodes.set(`${st.ino}`, [...(inodes.get(`${st.ino}`) ?? []), rel]);
    }
    entries.set(rel, entry);
    if (entry.type === 'dir') {
      for (const name of (await readdir(full)).sort()) {
        const child = rel === '.' ? name : `${rel}/${name}`;
        if (!ignore.has(child)) await walk(child);
      }
    }
  };
  await walk('.');
  const hardLinkGroups = [...inodes.values()]
    .map((g) => g.sort())
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  return { entries, hardLinkGroups };
}

export interface CompareOptions {
  /** Compare sparseness of files (not every population path keeps holes). Default true. */
  sparse?: boolean;
}

/** Every difference between two snapshots, as `path: field a != b` lines; empty when equal. */
export function compareSnapshots(
  expected: TreeSnapshot,
  actual: TreeSnapshot,
  options: CompareOptions = {},
): string[] {
  const diffs: string[] = [];
  for (const [rel, want] of expected.entries) {
    const got = actual.entries.get(rel);
    if (!got) {
      diffs.push(`${rel}: missing`);
      continue;
    }
    for (const key of Object.keys(want) as (keyof EntrySnapshot)[]) {
      if (key === 'sparse' && options.sparse === false) continue;
      const a = JSON.stringify(want[key]);
      const b = JSON.stringify(got[key]);
      if (a !== b) diffs.push(`${rel}: ${key} ${a} != ${b}`);
    }
  }
  for (const rel of actual.entries.keys()) if (!expected.entries.has(rel)) diffs.push(`${rel}: unexpected`);
  const groups = (s: TreeSnapshot): string => JSON.stringify(s.hardLinkGroups);
  if (groups(expected) !== groups(actual)) diffs.push(`hard links: ${groups(expected)} != ${groups(actual)}`);
  return diffs;
}

/** Snapshots both trees and compares them. */
export async function compareTrees(
  expected: string,
  actual: string,
  options: SnapshotOptions & CompareOptions & { ignoreActual?: string[] } = {},
): Promise<string[]> {
  const a = await snapshotTree(expected, options);
  const b = await snapshotTree(actual, {
    ...options,
    ignore: [...(options.ignore ?? []), ...(options.ignoreActual ?? [])],
  });
  return compareSnapshots(a, b, options);
}

function typeOf(st: Awaited<ReturnType<typeof lstat>>): EntrySnapshot['type'] {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'file';
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** All xattrs of all entries, with one `getfattr` run (Node has no xattr API). */
async function readAllXattrs(root: string): Promise<Map<string, Record<string, string>>> {
  const result = await runCommand(
    [
      'getfattr',
      '--recursive',
      '--physical',
      '--no-dereference',
      '--dump',
      '--match=-',
      '--encoding=base64',
      '--absolute-names',
      root,
    ],
    {
      allowFailure: true,
    },
  );
  const map = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of result.stdout.split('\n')) {
    const file = /^# file: (.*)$/.exec(line);
    if (file?.[1] !== undefined) {
      const rel = path.relative(root, unescapeGetfattr(file[1])) || '.';
      current = {};
      map.set(rel, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current && eq > 0) current[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return map;
}

/** getfattr escapes unusual bytes in names as `\ooo`. */
function unescapeGetfattr(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const m = /^\\([0-7]{3})/.exec(text.slice(i));
    if (m?.[1]) {
      bytes.push(parseInt(m[1], 8));
      i += 3;
    } else bytes.push(...Buffer.from(text[i] ?? ''));
  }
  return Buffer.from(bytes).toString('utf8');
}

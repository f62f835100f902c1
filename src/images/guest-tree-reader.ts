/**
 * Reads files of a guest's filesystem without changing a byte of its image: ext2/3/4 through
 * debugfs (no mount at all), other filesystems through a read-only loop device mounted `ro` with
 * journal/log replay off. Symlinks in the guest are never followed: they could point at the host.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StepScope } from '../plan/plan.js';
import { dumpFileReadOnly, listDirReadOnly, readBirthTime } from '../tools/debugfs.js';
import { mountTree, unmountTree, type MountedTree } from './image-access.js';

/** One directory entry. */
export interface TreeEntry {
  name: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  size: number;
}

/** Read access to one guest filesystem. */
export interface GuestTreeReader {
  /** How the filesystem is read. */
  method: 'debugfs' | 'mount';
  /** The entries of directory `dir` (absolute in the guest); undefined when it is not a directory. */
  list(dir: string): Promise<TreeEntry[] | undefined>;
  /** Copies the regular file `file` to the host path `dest`; false when it is not a regular file. */
  copyOut(file: string, dest: string): Promise<boolean>;
  /** The regular file's creation time (else its modification time). */
  bornAt(file: string): Promise<Date | undefined>;
  /** A private host directory for copies, removed by close(). */
  scratch: string;
  close(): Promise<void>;
}

function kindOf(mode: number): TreeEntry['kind'] {
  const type = mode & 0o170000;
  return type === 0o100000 ? 'file' : type === 0o040000 ? 'dir' : type === 0o120000 ? 'link' : 'other';
}

/** The entry `file` names in its directory, through `list`. */
async function entryOf(reader: Pick<GuestTreeReader, 'list'>, file: string): Promise<TreeEntry | undefined> {
  const entries = await reader.list(path.posix.dirname(file));
  return entries?.find((e) => e.name === path.posix.basename(file));
}

function makeScratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-audit-'));
}

/** A reader over an ext2/3/4 filesystem in `rawPath` (an image file or device) through debugfs. */
export function openDebugfsReader(
  rawPath: string,
  scope: Pick<StepScope, 'sink' | 'signal'>,
): GuestTreeReader {
  const exec = { sink: scope.sink, signal: scope.signal };
  const scratch = makeScratch();
  const reader: GuestTreeReader = {
    method: 'debugfs',
    scratch,
    list: async (dir) => {
      const entries = await listDirReadOnly(rawPath, dir, exec);
      return entries?.map((e) => ({ name: e.name, kind: kindOf(e.mode), size: e.size }));
    },
    copyOut: async (file, dest) => {
      // debugfs resolves symlinks inside the guest's filesystem: ask for regular files only.
      if ((await entryOf(reader, file))?.kind !== 'file') return false;
      return dumpFileReadOnly(rawPath, file, dest, exec);
    },
    bornAt: (file) => readBirthTime(rawPath, file, exec),
    close: async () => fs.rmSync(scratch, { recursive: true, force: true }),
  };
  return reader;
}

/** The host path of `file` under `root` when no component is a symlink; undefined otherwise. */
function resolveNoLinks(root: string, file: string): string | undefined {
  let at = root;
  for (const part of file.split('/').filter(Boolean)) {
    at = path.join(at, part);
    try {
      if (fs.lstatSync(at).isSymbolicLink()) return undefined;
    } catch {
      return undefined;
    }
  }
  return at;
}

/** A reader over any filesystem Linux mounts, read-only and without journal replay. */
export async function openMountReader(
  rawPath: string,
  fsType: string | undefined,
  scope: StepScope,
): Promise<GuestTreeReader> {
  const tree: MountedTree = await mountTree(rawPath, scope, { fsType, readOnly: true });
  const scratch = makeScratch();
  const statOf = (file: string): fs.Stats | undefined => {
    const at = resolveNoLinks(tree.dir, file);
    return at ? fs.lstatSync(at) : undefined;
  };
  return {
    method: 'mount',
    scratch,
    list: async (dir) => {
      const at = resolveNoLinks(tree.dir, dir);
      if (!at || !fs.lstatSync(at).isDirectory()) return undefined;
      return fs.readdirSync(at).map((name) => {
        const stat = fs.lstatSync(path.join(at, name));
        return { name, kind: kindOf(stat.mode), size: stat.size };
      });
    },
    copyOut: async (file, dest) => {
      const at = resolveNoLinks(tree.dir, file);
      if (!at || !fs.lstatSync(at).isFile()) return false;
      fs.copyFileSync(at, dest);
      return true;
    },
    bornAt: async (file) => {
      const stat = statOf(file);
      if (!stat) return undefined;
      return stat.birthtimeMs > 0 ? stat.birthtime : stat.mtime;
    },
    close: async () => {
      fs.rmSync(scratch, { recursive: true, force: true });
      await unmountTree(tree, scope);
    },
  };
}

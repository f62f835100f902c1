/**
 * Edits a guest root tree and remembers what every touched path held before, so a failed
 * customization can put the tree back exactly as it found it (the undo of every built-in step).
 */
import fs from 'node:fs';
import path from 'node:path';
import { hostPathInTree, resolveGuestPath } from './tree-path.js';

type Before =
  | { kind: 'absent' }
  | { kind: 'file'; data: Buffer; mode: number; uid: number; gid: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'dir' };

export interface WriteOptions {
  /** Permission bits (default 0644). */
  mode?: number;
  /** Owner inside the guest; applied only when running as root (default: unchanged/root). */
  uid?: number;
  gid?: number;
}

/** A journaled editor of one guest tree; every path is resolved inside the tree. */
export class TreeEditor {
  readonly root: string;
  private readonly journal: { hostPath: string; before: Before }[] = [];
  private readonly seen = new Set<string>();

  constructor(root: string) {
    this.root = root;
  }

  /** The host path for a guest path (last component not followed). */
  hostPath(guestPath: string): string {
    return hostPathInTree(this.root, guestPath);
  }

  /** Reads a file of the guest (following symlinks inside the tree); undefined when missing. */
  read(guestPath: string): string | undefined {
    try {
      return fs.readFileSync(hostPathInTree(this.root, guestPath, true), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** Whether a path exists in the guest (following symlinks inside the tree). */
  exists(guestPath: string): boolean {
    return fs.existsSync(hostPathInTree(this.root, guestPath, true));
  }

  /** Whether anything (even a dangling symlink) is at the path. */
  isPresent(guestPath: string): boolean {
    return lstatOrUndefined(this.hostPath(guestPath)) !== undefined;
  }

  /** Lists a guest directory; empty when missing. */
  list(guestPath: string): string[] {
    try {
      return fs.readdirSync(hostPathInTree(this.root, guestPath, true)).sort();
    } catch {
      return [];
    }
  }

  /** Writes a regular file, replacing a symlink at that path rather than writing through it. */
  writeFile(guestPath: string, data: string | Buffer, options: WriteOptions = {}): void {
    const target = this.hostPath(guestPath);
    this.mkdirParents(guestPath);
    this.remember(target);
    const stat = lstatOrUndefined(target);
    if (stat && !stat.isFile()) fs.rmSync(target, { force: true });
    fs.writeFileSync(target, data, { mode: options.mode ?? 0o644 });
    fs.chmodSync(target, options.mode ?? 0o644);
    chownIfRoot(target, options);
  }

  /** Creates (or replaces) a symlink. */
  symlink(guestPath: string, linkTarget: string): void {
    const target = this.hostPath(guestPath);
    this.mkdirParents(guestPath);
    this.remember(target);
    if (lstatOrUndefined(target)) fs.rmSync(target, { force: true });
    fs.symlinkSync(linkTarget, target);
  }

  /** Removes a file or symlink (never a directory); nothing happens when it is missing. */
  remove(guestPath: string): void {
    const target = this.hostPath(guestPath);
    const stat = lstatOrUndefined(target);
    if (!stat || stat.isDirectory()) return;
    this.remember(target);
    fs.rmSync(target, { force: true });
  }

  /** Creates a directory (and its parents) with a mode; existing directories keep theirs. */
  mkdir(guestPath: string, options: WriteOptions = {}): void {
    this.mkdirParents(guestPath);
    const target = this.hostPath(guestPath);
    if (lstatOrUndefined(target)?.isDirectory()) return;
    this.remember(target);
    fs.mkdirSync(target, { mode: options.mode ?? 0o755 });
    fs.chmodSync(target, options.mode ?? 0o755);
    chownIfRoot(target, options);
  }

  /** Records that a path is about to be created by someone else (a tool), so undo removes it. */
  noteCreating(guestPath: string): void {
    this.remember(this.hostPath(guestPath));
  }

  /** Records that a tool just created a path that was absent before, so undo removes it. */
  noteCreated(guestPath: string): void {
    const hostPath = this.hostPath(guestPath);
    if (this.seen.has(hostPath)) return;
    this.seen.add(hostPath);
    this.journal.push({ hostPath, before: { kind: 'absent' } });
  }

  /** How many paths this editor touched. */
  get changeCount(): number {
    return this.journal.length;
  }

  /** Restores every touched path, newest first. */
  rollback(): void {
    while (this.journal.length > 0) {
      const { hostPath, before } = this.journal.pop() as { hostPath: string; before: Before };
      this.seen.delete(hostPath);
      restore(hostPath, before);
    }
  }

  private mkdirParents(guestPath: string): void {
    const parent = path.posix.dirname(resolveGuestPath(this.root, guestPath));
    const missing: string[] = [];
    for (let dir = parent; dir !== '/'; dir = path.posix.dirname(dir)) {
      if (lstatOrUndefined(path.join(this.root, dir))) break;
      missing.unshift(dir);
    }
    for (const dir of missing) {
      const hostDir = path.join(this.root, dir);
      this.remember(hostDir);
      fs.mkdirSync(hostDir, { mode: 0o755 });
    }
  }

  private remember(hostPath: string): void {
    if (this.seen.has(hostPath)) return;
    this.seen.add(hostPath);
    this.journal.push({ hostPath, before: snapshot(hostPath) });
  }
}

function snapshot(hostPath: string): Before {
  const stat = lstatOrUndefined(hostPath);
  if (!stat) return { kind: 'absent' };
  if (stat.isSymbolicLink()) return { kind: 'symlink', target: fs.readlinkSync(hostPath) };
  if (stat.isDirectory()) return { kind: 'dir' };
  return {
    kind: 'file',
    data: fs.readFileSync(hostPath),
    mode: stat.mode & 0o7777,
    uid: stat.uid,
    gid: stat.gid,
  };
}

function restore(hostPath: string, before: Before): void {
  const now = lstatOrUndefined(hostPath);
  if (before.kind === 'dir') return;
  if (now?.isDirectory()) {
    // Only directories this editor created are removed, and only once they are empty again.
    if (before.kind === 'absent') removeEmptyDir(hostPath);
    return;
  }
  if (now) fs.rmSync(hostPath, { force: true });
  if (before.kind === 'symlink') fs.symlinkSync(before.target, hostPath);
  if (before.kind === 'file') {
    fs.writeFileSync(hostPath, before.data, { mode: before.mode });
    fs.chmodSync(hostPath, before.mode);
    chownIfRoot(hostPath, { uid: before.uid, gid: before.gid });
  }
}

function removeEmptyDir(hostPath: string): void {
  try {
    fs.rmdirSync(hostPath);
  } catch {
    // not empty: something else put files there, and those are not ours to remove
  }
}

function chownIfRoot(hostPath: string, options: WriteOptions): void {
  if (options.uid === undefined && options.gid === undefined) return;
  if (process.getuid?.() !== 0) return;
  fs.lchownSync(hostPath, options.uid ?? -1, options.gid ?? -1);
}

function lstatOrUndefined(hostPath: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(hostPath);
  } catch {
    return undefined;
  }
}

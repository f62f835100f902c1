/** A quick walk over a root tree: the facts that decide how it can be put into a filesystem. */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** What a tree holds, as far as choosing a population strategy is concerned. */
export interface TreeFacts {
  /** Character or block device nodes (mkfs.btrfs 6.2 `--rootdir` writes them with rdev 0:0). */
  hasDeviceNodes: boolean;
  /** Entries on another filesystem than the top (btrfs `--rootdir` reuses st_ino as inode numbers). */
  crossesFilesystems: boolean;
  /** Permission bits, owner and group of the top directory itself. */
  root: { mode: number; uid: number; gid: number };
  /** Bytes actually allocated (st_blocks), so sparse files count as what they occupy. */
  allocatedBytes: number;
  entries: number;
}

/** Walks `dir` without following symlinks. */
export async function scanTree(dir: string): Promise<TreeFacts> {
  const top = await lstat(dir);
  const facts: TreeFacts = {
    hasDeviceNodes: false,
    crossesFilesystems: false,
    root: { mode: top.mode & 0o7777, uid: top.uid, gid: top.gid },
    allocatedBytes: top.blocks * 512,
    entries: 1,
  };
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const st = await lstat(full);
      facts.entries++;
      facts.allocatedBytes += st.blocks * 512;
      if (st.dev !== top.dev) facts.crossesFilesystems = true;
      if (st.isCharacterDevice() || st.isBlockDevice()) facts.hasDeviceNodes = true;
      if (st.isDirectory()) pending.push(full);
    }
  }
  return facts;
}

/** Whether the top directory has what a fresh mkfs gives its root (0755, root:root). */
export function hasDefaultRoot(facts: TreeFacts): boolean {
  return facts.root.mode === 0o755 && facts.root.uid === 0 && facts.root.gid === 0;
}

/**
 * verify: every manifest re-read and checked against its digest, every chunk a manifest names
 * re-read, decompressed and re-hashed. A damaged chunk is named with every snapshot and disk that
 * needs it. Repository files that others can read are reported too (they hold guests' secrets).
 */
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { cancelledIfAborted } from './cancel.js';
import { checkChunk } from './chunk-store.js';
import { listSnapshotIds, readManifest, type Manifest } from './manifest.js';
import type { Repository } from './repository.js';

export interface VerifyProblem {
  /** The snapshot affected. */
  snapshot: string;
  /** The disk affected (its target), when the problem is a chunk. */
  disk?: string;
  /** The damaged chunk, when it is one. */
  chunk?: string;
  message: string;
}

export interface VerifyReport {
  snapshots: number;
  chunks: number;
  bytes: number;
  problems: VerifyProblem[];
  /** Repository paths readable or writable by group or others. */
  exposed: string[];
}

/** Verifies the snapshots `ids` (every snapshot when empty). */
export async function verifyRepository(
  repo: Repository,
  ids: string[],
  signal?: AbortSignal,
): Promise<VerifyReport> {
  const chosen = ids.length > 0 ? ids : await listSnapshotIds(repo);
  const problems: VerifyProblem[] = [];
  const users = new Map<string, { snapshot: string; disk: string }[]>();
  for (const id of chosen) {
    let manifest: Manifest;
    try {
      manifest = await readManifest(repo, id);
    } catch (error) {
      problems.push({ snapshot: id, message: (error as Error).message });
      continue;
    }
    for (const disk of manifest.disks) {
      for (const chunk of disk.chunks) {
        if (chunk === null) continue;
        const list = users.get(chunk) ?? [];
        if (!list.some((u) => u.snapshot === id && u.disk === disk.target))
          list.push({ snapshot: id, disk: disk.target });
        users.set(chunk, list);
      }
    }
  }
  let bytes = 0;
  const ids_ = [...users.keys()];
  // A few at once: reading and decompressing run on the thread pool.
  const width = 4;
  for (let i = 0; i < ids_.length; i += width) {
    cancelledIfAborted(signal, 'backup verify');
    const batch = ids_.slice(i, i + width);
    const results = await Promise.all(batch.map((id) => checkChunk(repo, id)));
    for (const [j, message] of results.entries()) {
      const id = batch[j]!;
      if (message === undefined) continue;
      for (const use of users.get(id) ?? []) problems.push({ ...use, chunk: id, message });
    }
  }
  for (const id of ids_)
    bytes += (await fs.stat(path.join(repo.chunksDir, id.slice(0, 2), id)).catch(() => ({ size: 0 }))).size;
  return {
    snapshots: chosen.length,
    chunks: ids_.length,
    bytes,
    problems,
    exposed: await exposedPaths(repo),
  };
}

/** The repository's top paths that group or others may read or write. */
async function exposedPaths(repo: Repository): Promise<string[]> {
  const out: string[] = [];
  const check = (p: string): void => {
    try {
      if ((statSync(p).mode & 0o077) !== 0) out.push(p);
    } catch {
      // gone meanwhile
    }
  };
  for (const p of [repo.dir, repo.chunksDir, repo.snapshotsDir, repo.cacheDir]) check(p);
  for (const name of await fs.readdir(repo.snapshotsDir).catch(() => [] as string[]))
    check(path.join(repo.snapshotsDir, name));
  return out;
}

/**
 * prune: forget all but the last N snapshots of each guest (or of one), then free every chunk no
 * remaining manifest names. Manifests go first, chunks after: a run killed in between leaves only
 * unreferenced chunks, which the next prune frees.
 */
import fs from 'node:fs/promises';
import { failpoint } from '../plan/executor.js';
import { cancelledIfAborted } from './cancel.js';
import { chunkPath, listChunks } from './chunk-store.js';
import { syncDirectory } from './durable-file.js';
import { listSnapshotIds, manifestPath, readManifest, type Manifest } from './manifest.js';
import type { Repository } from './repository.js';

export interface PruneChoice {
  keep: string[];
  forget: string[];
}

/** Which snapshots go: per guest (only `guest` when given), all but the newest `keepLast`. */
export function choosePrune(manifests: Manifest[], keepLast: number, guest?: string): PruneChoice {
  const byGuest = new Map<string, Manifest[]>();
  for (const m of manifests) byGuest.set(m.guest, [...(byGuest.get(m.guest) ?? []), m]);
  const keep: string[] = [];
  const forget: string[] = [];
  for (const [name, list] of byGuest) {
    const sorted = [...list].sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
    if (guest !== undefined && name !== guest) {
      keep.push(...sorted.map((m) => m.id));
      continue;
    }
    const cut = Math.max(0, sorted.length - keepLast);
    forget.push(...sorted.slice(0, cut).map((m) => m.id));
    keep.push(...sorted.slice(cut).map((m) => m.id));
  }
  return { keep, forget };
}

/** Every readable manifest, and the ids of those that are not (kept: their chunks are not freed). */
export async function readAllManifests(
  repo: Repository,
): Promise<{ manifests: Manifest[]; damaged: string[] }> {
  const manifests: Manifest[] = [];
  const damaged: string[] = [];
  for (const id of await listSnapshotIds(repo)) {
    try {
      manifests.push(await readManifest(repo, id));
    } catch {
      damaged.push(id);
    }
  }
  return { manifests, damaged };
}

/** The chunks no manifest in `keep` names. */
export async function unreferencedChunks(repo: Repository, keep: Manifest[]): Promise<string[]> {
  const used = new Set<string>();
  for (const m of keep) for (const d of m.disks) for (const c of d.chunks) if (c) used.add(c);
  return (await listChunks(repo)).filter((id) => !used.has(id));
}

/** Removes the manifests `forget`, then the chunks no remaining manifest names; returns bytes freed. */
export async function applyPrune(
  repo: Repository,
  forget: string[],
  signal?: AbortSignal,
  failAfter?: string,
): Promise<{ chunks: number; bytes: number }> {
  for (const id of forget) await fs.rm(manifestPath(repo, id), { force: true });
  if (forget.length > 0) await syncDirectory(repo.snapshotsDir);
  failpoint(failAfter, 'prune.manifests');
  const { manifests, damaged } = await readAllManifests(repo);
  if (damaged.length > 0) {
    // A damaged manifest's chunks are unknown: freeing now could take what it needs.
    throw new Error(`snapshot ${damaged.join(', ')} cannot be read; no chunk was freed (run backup verify)`);
  }
  let bytes = 0;
  let chunks = 0;
  for (const id of await unreferencedChunks(repo, manifests)) {
    cancelledIfAborted(signal, 'backup prune');
    const file = chunkPath(repo, id);
    const size = (await fs.stat(file).catch(() => ({ size: 0 }))).size;
    await fs.rm(file, { force: true });
    bytes += size;
    chunks += 1;
    failpoint(failAfter, 'prune.chunk');
  }
  return { chunks, bytes };
}

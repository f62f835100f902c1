/** The chunks of a repository: put (compress, write durably), read (decompress, check the hash). */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { decodeChunk, encodeChunk } from './chunk-codec.js';
import { makePrivateDir, syncDirectory, writeDurably } from './durable-file.js';
import { keyedChunkId, openChunk, sealChunk } from './encryption.js';
import type { Repository } from './repository.js';

const HASH_RE = /^[0-9a-f]{64}$/;

/** The SHA-256 of `data`, hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The id of a chunk of `data`: its SHA-256, or in an encrypted repository its HMAC (encryption.ts). */
export function chunkIdOf(repo: Repository, data: Uint8Array): string {
  return repo.keys ? keyedChunkId(repo.keys, data) : sha256Hex(data);
}

/** Whether `text` is a chunk id (64 lower-case hex digits). */
export function isChunkId(text: string): boolean {
  return HASH_RE.test(text);
}

/** Where the chunk `id` lives. */
export function chunkPath(repo: Repository, id: string): string {
  return path.join(repo.chunksDir, id.slice(0, 2), id);
}

/** Whether the repository holds chunk `id`. */
export function hasChunk(repo: Repository, id: string): boolean {
  return existsSync(chunkPath(repo, id));
}

/** What putting a chunk did. */
export interface PutResult {
  /** Bytes written to the repository (0 when the chunk was there already). */
  stored: number;
}

/**
 * Stores `data` as chunk `id` (chunkIdOf) unless it is there already. The chunk's directory is
 * made as needed and remembered in `dirs`, to be fsynced once by `syncChunkDirs` before a
 * manifest names the chunk.
 */
export async function putChunk(
  repo: Repository,
  id: string,
  data: Uint8Array,
  dirs: Set<string>,
): Promise<PutResult> {
  const file = chunkPath(repo, id);
  if (existsSync(file)) return { stored: 0 };
  const plain = await encodeChunk(data);
  const encoded = repo.keys ? sealChunk(repo.keys, id, plain) : plain;
  const dir = path.dirname(file);
  await makePrivateDir(dir);
  await writeDurably(file, encoded, false);
  dirs.add(dir);
  return { stored: encoded.length };
}

/** fsyncs the chunk directories new chunks went to, and the chunks directory itself. */
export async function syncChunkDirs(repo: Repository, dirs: Set<string>): Promise<void> {
  for (const dir of dirs) await syncDirectory(dir);
  if (dirs.size > 0) await syncDirectory(repo.chunksDir);
}

/** Why chunk `id` is damaged or missing; undefined when it reads back and hashes to its name. */
export async function checkChunk(repo: Repository, id: string): Promise<string | undefined> {
  try {
    await readChunk(repo, id);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The bytes of chunk `id`; throws an Error naming the chunk when it is missing or damaged. */
export async function readChunk(repo: Repository, id: string): Promise<Buffer> {
  const file = chunkPath(repo, id);
  let stored: Buffer;
  try {
    stored = await fs.readFile(file);
  } catch (error) {
    throw new Error(`chunk ${id} is missing (${(error as NodeJS.ErrnoException).code ?? String(error)})`, {
      cause: error,
    });
  }
  let data: Buffer;
  try {
    data = decodeChunk(repo.keys ? openChunk(repo.keys, id, stored) : stored, repo.chunkSize);
  } catch (error) {
    throw new Error(`chunk ${id} does not decode (${(error as Error).message})`, { cause: error });
  }
  const actual = chunkIdOf(repo, data);
  if (actual !== id) throw new Error(`chunk ${id} is damaged (its bytes hash to ${actual})`);
  return data;
}

/** Every chunk id in the repository (temporaries left out). */
export async function listChunks(repo: Repository): Promise<string[]> {
  const ids: string[] = [];
  for (const sub of await fs.readdir(repo.chunksDir)) {
    if (!/^[0-9a-f]{2}$/.test(sub)) continue;
    for (const name of await fs.readdir(path.join(repo.chunksDir, sub))) if (isChunkId(name)) ids.push(name);
  }
  return ids;
}

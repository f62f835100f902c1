/**
 * A backup repository: plain files under one directory (0700, files 0600).
 *
 *   xenkit-backup.json     what this directory is (format, version, chunk size)
 *   chunks/ab/abcd...      one chunk, named by the SHA-256 of its bytes (chunk-codec.ts form)
 *   snapshots/ID.json      one manifest per snapshot (manifest.ts), written last
 *   cache/files.json       the files cache (files-cache.ts): what an unchanged image holds
 *   lock                   held by the run that writes (create, prune, restore reads without it)
 *
 * Content addressing makes every write idempotent: a chunk written by a killed run is just an
 * unreferenced chunk (prune frees it), a manifest exists whole or not at all.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import { acquireLock, type LockHandle } from '../plan/lock-file.js';
import { isTempName, makePrivateDir, writeDurably } from './durable-file.js';

export const REPO_MARKER = 'xenkit-backup.json';
const FORMAT = 'xenkit-backup';
const VERSION = 1;

/** The default chunk size: 4 MiB, PBS's fixed chunk size for VM images. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;

export interface Repository {
  dir: string;
  chunkSize: number;
  chunksDir: string;
  snapshotsDir: string;
  cacheDir: string;
}

function layout(dir: string, chunkSize: number): Repository {
  return {
    dir,
    chunkSize,
    chunksDir: path.join(dir, 'chunks'),
    snapshotsDir: path.join(dir, 'snapshots'),
    cacheDir: path.join(dir, 'cache'),
  };
}

/** Opens the repository at `dir`; E_NO_REPO (usage) when it is not one. */
export function openRepository(dir: string): Repository {
  const marker = path.join(dir, REPO_MARKER);
  if (!existsSync(marker)) {
    throw usageError(
      'E_NO_REPO',
      `${dir} is not a xenkit backup repository (no ${REPO_MARKER})`,
      existsSync(dir)
        ? 'give the repository with --repo DIR'
        : 'xenkit backup create makes one; or give another with --repo DIR',
    );
  }
  let parsed: { format?: unknown; version?: unknown; chunkSize?: unknown };
  try {
    parsed = JSON.parse(readFileSync(marker, 'utf8')) as typeof parsed;
  } catch (error) {
    throw runtimeError('E_REPO', `${marker} is not readable JSON`, 'the repository is damaged', error);
  }
  if (parsed.format !== FORMAT || parsed.version !== VERSION || typeof parsed.chunkSize !== 'number') {
    throw runtimeError(
      'E_REPO',
      `${marker}: format ${String(parsed.format)} version ${String(parsed.version)} is not one this xenkit reads`,
      `this xenkit reads ${FORMAT} version ${VERSION}`,
    );
  }
  return layout(dir, parsed.chunkSize);
}

/** Opens the repository at `dir`, making it (0700) first when the directory is missing or empty. */
export async function openOrCreateRepository(
  dir: string,
  chunkSize = DEFAULT_CHUNK_SIZE,
): Promise<Repository> {
  if (existsSync(path.join(dir, REPO_MARKER))) return openRepository(dir);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory() || (await fs.readdir(dir)).length > 0) {
      throw usageError(
        'E_NO_REPO',
        `${dir} exists and is not a xenkit backup repository`,
        'give an empty or new directory with --repo DIR',
      );
    }
  }
  await makePrivateDir(dir);
  await fs.chmod(dir, 0o700);
  const repo = layout(dir, chunkSize);
  for (const sub of [repo.chunksDir, repo.snapshotsDir, repo.cacheDir]) await makePrivateDir(sub);
  const marker = { format: FORMAT, version: VERSION, chunkSize, created: new Date().toISOString() };
  await writeDurably(path.join(dir, REPO_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return repo;
}

/** Takes the repository's write lock (E_LOCKED when another run holds it). */
export async function lockRepository(repo: Repository, waitMs = 0): Promise<LockHandle> {
  return acquireLock(path.join(repo.dir, 'lock'), `backup repository ${repo.dir}`, waitMs);
}

/**
 * Removes the temporaries a killed writer left (chunk, manifest and cache temporaries). Only
 * under the repository's lock: a live writer's temporaries are its own.
 */
export async function sweepTemporaries(repo: Repository): Promise<number> {
  let removed = 0;
  const sweep = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!isTempName(name)) continue;
      await fs.rm(path.join(dir, name), { force: true });
      removed += 1;
    }
  };
  await sweep(repo.dir);
  await sweep(repo.snapshotsDir);
  await sweep(repo.cacheDir);
  for (const sub of await fs.readdir(repo.chunksDir).catch(() => [] as string[])) {
    if (!isTempName(sub)) await sweep(path.join(repo.chunksDir, sub));
  }
  return removed;
}

/**
 * A backup repository: plain files under one directory (0700, files 0600).
 *
 *   xenkit-backup.json     what this directory is (format, version, chunk size, encryption)
 *   chunks/ab/abcd...      one chunk, named by the SHA-256 of its bytes (chunk-codec.ts form);
 *                          in an encrypted repository by their HMAC, and sealed (encryption.ts)
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
import { isEncryptionMarker, newEncryption, openEncryption, SCHEME, type RepoKeys } from './encryption.js';

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
  /** The keys of an encrypted repository (absent: chunks and manifests are plain). */
  keys?: RepoKeys;
}

/** The key file's bytes and its name (for messages), when `--encryption-key` was given. */
export interface RepoSecret {
  file: string;
  bytes: Buffer;
}

function layout(dir: string, chunkSize: number, keys?: RepoKeys): Repository {
  return {
    dir,
    chunkSize,
    chunksDir: path.join(dir, 'chunks'),
    snapshotsDir: path.join(dir, 'snapshots'),
    cacheDir: path.join(dir, 'cache'),
    ...(keys ? { keys } : {}),
  };
}

/** The keys for an existing repository: refused (usage) when the key is missing, wrong or not wanted. */
function repositoryKeys(
  dir: string,
  encryption: unknown,
  secret: RepoSecret | undefined,
): RepoKeys | undefined {
  if (encryption === undefined) {
    if (!secret) return undefined;
    throw usageError(
      'E_BACKUP_KEY',
      `${dir} is not an encrypted repository; --encryption-key ${secret.file} would not be used`,
      'leave out --encryption-key, or give a new --repo DIR to make an encrypted one',
    );
  }
  if (!isEncryptionMarker(encryption)) {
    throw runtimeError(
      'E_REPO',
      `${path.join(dir, REPO_MARKER)}: an encryption this xenkit does not read`,
      `this xenkit reads ${SCHEME}`,
    );
  }
  if (!secret) {
    throw usageError(
      'E_BACKUP_KEY',
      `${dir} is an encrypted repository`,
      'give the key file it was made with: --encryption-key FILE',
    );
  }
  const keys = openEncryption(encryption, secret.bytes);
  if (!keys) {
    throw usageError(
      'E_BACKUP_KEY',
      `--encryption-key ${secret.file} is not the key of ${dir}`,
      'give the key file the repository was made with',
    );
  }
  return keys;
}

/**
 * Opens the repository at `dir`; E_NO_REPO (usage) when it is not one, E_BACKUP_KEY (usage) when
 * it is encrypted and `secret` is missing or not its key, or `secret` is given for a plain one.
 */
export function openRepository(dir: string, secret?: RepoSecret): Repository {
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
  let parsed: { format?: unknown; version?: unknown; chunkSize?: unknown; encryption?: unknown };
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
  return layout(dir, parsed.chunkSize, repositoryKeys(dir, parsed.encryption, secret));
}

/** Opens the repository at `dir`, making it (0700) first when the directory is missing or empty. */
export async function openOrCreateRepository(
  dir: string,
  chunkSize = DEFAULT_CHUNK_SIZE,
  secret?: RepoSecret,
): Promise<Repository> {
  if (existsSync(path.join(dir, REPO_MARKER))) return openRepository(dir, secret);
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
  const encryption = secret ? newEncryption(secret.bytes) : undefined;
  const repo = layout(dir, chunkSize, encryption?.keys);
  for (const sub of [repo.chunksDir, repo.snapshotsDir, repo.cacheDir]) await makePrivateDir(sub);
  const marker = {
    format: FORMAT,
    version: VERSION,
    chunkSize,
    created: new Date().toISOString(),
    ...(encryption ? { encryption: encryption.marker } : {}),
  };
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

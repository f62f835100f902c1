/**
 * Spare RSA host keys, made ahead of need. An RSA 3072 key takes 0.3-2 s of prime search on a
 * small host, longer than everything else a clone does; ed25519 and ECDSA keys take milliseconds
 * and are always made on the spot. The pool is on by default: every create-image or clone that
 * looked for a key in it (found or not) starts a background refill at its end, up to
 * DEFAULT_POOL_SIZE keys or the size `xenkit cache host-keys fill --count N` recorded, so the
 * clones made after a base guest find their RSA key ready. The refill is bounded (the size), niced,
 * one at a time (the lock) and ends when the pool is full; `clear` records size 0, which turns the
 * refills off until the next `fill`, and XENKIT_HOST_KEY_POOL=off turns them off for a process
 * (the tests set it, so that no filler outlives a test).
 *
 * Layout of <cacheDir>/host-keys (0700, root's): `rsa-<hex>.key` private keys (0600, OpenSSH
 * format), `size` (the size to refill to), `.lock` (held by a filler), `.new-<pid>-<hex>/` (a key
 * being made: renamed into place when complete, so a half-made key is never seen) and
 * `.taken-<pid>-<hex>` (a key being claimed: the rename is atomic, so no key is given out twice).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventSink } from '../log/events.js';
import { acquireLock, lockHolder, type LockHandle } from '../plan/lock-file.js';
import { isAlive } from '../plan/process-identity.js';
import { ensureOwnDir } from '../plan/own-dir.js';
import { settleAll } from '../plan/settle-all.js';
import { runCommand, spawnDetached } from '../tools/exec.js';
import { generateKeyPair } from '../tools/ssh-keygen.js';

/** `off` in this environment variable: no background refills from this process. */
export const POOL_ENV = 'XENKIT_HOST_KEY_POOL';

/** How many spare keys `fill` makes, and refills keep, when no size is given or recorded. */
export const DEFAULT_POOL_SIZE = 4;
/** The most a pool may hold (each key is 2.5 KB; the cap only guards against typos). */
export const MAX_POOL_SIZE = 256;

const KEY_FILE = /^rsa-[0-9a-f]{16}\.key$/;
const TEMP_ENTRY = /^\.(new|taken)-(\d+)-[0-9a-f]+$/;

interface PoolOptions {
  sink?: EventSink;
  signal?: AbortSignal;
}

/** The pool directory under a cache directory. */
export function hostKeyPoolDir(cacheDir: string): string {
  return path.join(cacheDir, 'host-keys');
}

/** What the pool holds now. */
export interface PoolStatus {
  dir: string;
  /** Spare keys ready to be taken. */
  keys: number;
  /** The size refills top up to; 0 when the pool was never filled (or was cleared). */
  size: number;
  /** Whether a filler is running. */
  filling: boolean;
}

export function poolStatus(dir: string): PoolStatus {
  return {
    dir,
    keys: listKeys(dir).length,
    size: readSize(dir),
    filling: lockHolder(path.join(dir, '.lock')) !== undefined,
  };
}

function listKeys(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((name) => KEY_FILE.test(name))
      .sort();
  } catch {
    return [];
  }
}

/** The recorded size; DEFAULT_POOL_SIZE when none was recorded, 0 after a clear. */
function readSize(dir: string): number {
  let size: number;
  try {
    size = Number.parseInt(fs.readFileSync(path.join(dir, 'size'), 'utf8'), 10);
  } catch {
    return DEFAULT_POOL_SIZE;
  }
  return Number.isInteger(size) && size > 0 ? Math.min(size, MAX_POOL_SIZE) : 0;
}

/** Creates the pool directory (under root's cache directory), checks it is xenkit's own, and makes it private: 0700. */
function ensurePoolDir(dir: string): void {
  ensureOwnDir(dir, 0o700);
  fs.chmodSync(dir, 0o700);
}

/** The pool directories this process took a key from: they get a background refill at exit. */
const drawnPools = new Set<string>();

/**
 * Takes one spare RSA key out of the pool at `dir` and installs it as `file` and `file.pub` with
 * `comment`. Returns false when the pool has none (the caller makes one on the spot). A key that
 * ssh-keygen cannot read is thrown away and the next one tried.
 */
export async function takePooledRsaKey(
  dir: string,
  file: string,
  comment: string,
  options: PoolOptions = {},
): Promise<boolean> {
  // Looked at, full or empty: the pool gets its background refill when the command ends.
  drawnPools.add(dir);
  for (const name of listKeys(dir)) {
    const taken = path.join(dir, `.taken-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      fs.renameSync(path.join(dir, name), taken);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // another run took it
      throw error;
    }
    try {
      fs.writeFileSync(file, fs.readFileSync(taken), { mode: 0o600 });
    } finally {
      fs.rmSync(taken, { force: true });
    }
    // Sets the comment and writes file.pub; fails on a damaged key.
    const set = await runCommand(['ssh-keygen', '-q', '-c', '-C', comment, '-f', file], {
      sink: options.sink,
      signal: options.signal,
      allowFailure: true,
    });
    if (set.exitCode === 0 && fs.existsSync(`${file}.pub`)) {
      options.sink?.({
        type: 'info',
        message: `rsa host key taken from the pool ${dir} (${listKeys(dir).length} left)`,
      });
      return true;
    }
    options.sink?.({ type: 'warn', message: `damaged key ${name} in ${dir} thrown away` });
    fs.rmSync(file, { force: true });
    fs.rmSync(`${file}.pub`, { force: true });
  }
  return false;
}

/** Result of a fill. */
export interface FillResult {
  dir: string;
  made: number;
  keys: number;
  size: number;
  /** True when another filler held the pool and `background` asked not to wait. */
  skipped: boolean;
}

/**
 * Tops the pool up to `size` keys (recording `size` for later refills), making keys on every
 * core. With `background`, the recorded size is used and a running filler means nothing to do.
 */
export async function fillPool(
  dir: string,
  request: { size?: number; background?: boolean },
  options: PoolOptions & { onKey?: (made: number, wanted: number) => void } = {},
): Promise<FillResult> {
  ensurePoolDir(dir);
  let lock: LockHandle;
  try {
    lock = await acquireLock(
      path.join(dir, '.lock'),
      `host key pool ${dir}`,
      request.background ? 0 : 60_000,
    );
  } catch (error) {
    if (request.background)
      return { dir, made: 0, keys: listKeys(dir).length, size: readSize(dir), skipped: true };
    throw error;
  }
  try {
    removeLeftovers(dir);
    const size = request.size ?? (readSize(dir) || (request.background ? 0 : DEFAULT_POOL_SIZE));
    if (!request.background) fs.writeFileSync(path.join(dir, 'size'), `${size}\n`, { mode: 0o600 });
    const wanted = Math.max(0, size - listKeys(dir).length);
    let made = 0;
    const workers = Math.min(wanted, Math.max(1, os.availableParallelism()));
    let next = 0;
    // Settled, not raced: a cancelled fill returns once every worker has cleaned up after itself.
    await settleAll(
      Array.from({ length: workers }, async () => {
        while (next < wanted && !options.signal?.aborted) {
          next++;
          await makeOneKey(dir, options);
          made++;
          options.onKey?.(made, wanted);
        }
      }),
    );
    return { dir, made, keys: listKeys(dir).length, size, skipped: false };
  } finally {
    lock.release();
  }
}

/** Makes one key in a private directory and renames it into the pool once it is complete. */
async function makeOneKey(dir: string, options: PoolOptions): Promise<void> {
  const hex = randomBytes(8).toString('hex');
  const work = path.join(dir, `.new-${process.pid}-${hex}`);
  fs.mkdirSync(work, { mode: 0o700 });
  try {
    await generateKeyPair('rsa', path.join(work, 'key'), 'xenkit-pool', options);
    fs.renameSync(path.join(work, 'key'), path.join(dir, `rsa-${hex}.key`));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Removes what an interrupted filler or claimer left (only of processes that are gone). */
function removeLeftovers(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const match = TEMP_ENTRY.exec(name);
    if (match && !isAlive(Number(match[2])))
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Removes every spare key and records size 0 (refills stop until the next fill). */
export async function clearPool(dir: string): Promise<{ removed: number }> {
  if (!fs.existsSync(dir)) return { removed: 0 };
  const lock = await acquireLock(path.join(dir, '.lock'), `host key pool ${dir}`, 60_000);
  try {
    const keys = listKeys(dir);
    for (const name of keys) fs.rmSync(path.join(dir, name), { force: true });
    fs.writeFileSync(path.join(dir, 'size'), '0\n', { mode: 0o600 });
    removeLeftovers(dir);
    return { removed: keys.length };
  } finally {
    lock.release();
  }
}

/**
 * Starts a background refill of every pool this process took a key from (like `git gc --auto`):
 * a detached, niced `xenkit cache host-keys fill --background`, which does nothing when another
 * filler runs or the pool was cleared. Each start is logged to `sink`; returns the pids started.
 */
export function refillDrawnPools(root: string, sink?: EventSink): number[] {
  const pids: number[] = [];
  const bin = fileURLToPath(new URL('../../bin/xenkit.js', import.meta.url));
  const off = process.env[POOL_ENV] === 'off';
  for (const dir of drawnPools) {
    if (off || readSize(dir) === 0 || listKeys(dir).length >= readSize(dir) || !fs.existsSync(bin)) continue;
    const pid = spawnDetached([
      'nice',
      '-n',
      '19',
      process.execPath,
      bin,
      'cache',
      'host-keys',
      'fill',
      '--background',
      '--root',
      root,
    ]);
    if (!pid) continue;
    pids.push(pid);
    sink?.({ type: 'info', message: `host key pool: refill started in the background (pid ${pid})` });
  }
  drawnPools.clear();
  return pids;
}

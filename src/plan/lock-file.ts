/**
 * Exclusive lock files holding the owner's pid, with stale-lock recovery. A lock is made whole
 * (pid written first, then hard-linked to its name), so no one ever sees an empty lock and takes
 * it for a stale one; a stale lock is removed only by the one process holding its takeover mark.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runtimeError } from '../errors.js';
import { ensureOwnDir } from './own-dir.js';
import { isAlive } from './process-identity.js';

export interface LockHandle {
  path: string;
  release(): void;
}

/**
 * Takes the lock at `file` or throws E_LOCKED naming `what` and the holder's pid. A lock whose
 * holder is dead is taken over. Waits up to `waitMs` for a live holder to finish. The lock's
 * directory is made if missing and must belong to this run's user alone (E_UNSAFE_DIR).
 */
export async function acquireLock(file: string, what: string, waitMs = 0): Promise<LockHandle> {
  ensureOwnDir(path.dirname(file));
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (linkLockFile(file)) return lockHandle(file);
    const holder = lockHolder(file);
    if (holder === undefined) {
      // A crashed run left it behind (or it went away meanwhile): remove it and retry.
      if (!removeStaleLock(file)) await sleep(10);
      continue;
    }
    if (Date.now() >= deadline) {
      throw runtimeError(
        'E_LOCKED',
        `${what} is locked by another xenkit process (pid ${holder})`,
        `wait for it to finish, or remove ${file} if that process is gone`,
      );
    }
    await sleep(Math.min(200, Math.max(10, deadline - Date.now())));
  }
}

function lockHandle(file: string): LockHandle {
  let released = false;
  return {
    path: file,
    release: () => {
      if (released) return;
      released = true;
      // Only our own lock: one taken over after this process was thought dead is not ours.
      if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
    },
  };
}

/** Creates `file` holding this pid, whole or not at all; false when it exists. */
function linkLockFile(file: string): boolean {
  const temp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(temp, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Removes the lock at `file` if its holder is still dead, holding `FILE.takeover` meanwhile.
 * Without that mark, two processes that both saw the same stale lock race: the first removes it
 * and takes the lock, the second then removes the first one's fresh lock. Returns false when
 * another process holds the mark (the caller waits and looks again).
 */
function removeStaleLock(file: string): boolean {
  const mark = `${file}.takeover`;
  if (!linkLockFile(mark)) {
    // Its holder died inside these few lines: the mark is stale in turn. (Two processes that both
    // find a dead mark can still race here; that needs a crash inside the takeover first.)
    const pid = readPid(mark);
    if (pid !== undefined && !isAlive(pid)) fs.rmSync(mark, { force: true });
    return false;
  }
  try {
    // Read again under the mark: only a mark holder removes a dead holder's lock, so what is
    // read here stays until removed below.
    if (fs.existsSync(file) && lockHolder(file) === undefined) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(mark, { force: true });
  }
  return true;
}

function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isFinite(pid) ? pid : undefined;
}

/** The pid in the lock file at `file` if that process lives; undefined for no lock or a stale one. */
export function lockHolder(file: string): number | undefined {
  const pid = readPid(file);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

/** Runs `fn` holding the lock at `file` (see acquireLock), waiting up to `waitMs` for it. */
export async function withLock<T>(
  file: string,
  what: string,
  fn: () => Promise<T>,
  waitMs = 10_000,
): Promise<T> {
  const lock = await acquireLock(file, what, waitMs);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

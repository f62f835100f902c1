/** Exclusive lock files (O_EXCL) holding the owner's pid, with stale-lock recovery. */
import fs from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';

export interface LockHandle {
  path: string;
  release(): void;
}

/** Whether process `pid` exists (EPERM: it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock at `file` or throws E_LOCKED naming `what` and the holder's pid. A lock whose
 * holder is dead is taken over. Waits up to `waitMs` for a live holder to finish.
 */
export async function acquireLock(file: string, what: string, waitMs = 0): Promise<LockHandle> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx', 0o644);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      let released = false;
      return {
        path: file,
        release: () => {
          if (released) return;
          released = true;
          fs.rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = lockHolder(file);
    if (holder === undefined) {
      // A crashed run left it behind; remove and retry.
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw runtimeError(
        'E_LOCKED',
        `${what} is locked by another xenkit process (pid ${holder})`,
        `wait for it to finish, or remove ${file} if that process is gone`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The pid in the lock file at `file` if that process lives; undefined for no lock or a stale one. */
export function lockHolder(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number.parseInt(text, 10);
  return Number.isFinite(pid) && isAlive(pid) ? pid : undefined;
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

/** Taking a guest's lock inside a plan step: the lock, its release, and recovery after dead runs. */
import path from 'node:path';
import { acquireLock, type LockHandle } from './lock-file.js';
import type { StepContext } from './plan.js';

/** The lock file of guest `name`. */
export function guestLockPath(lockDir: string, name: string): string {
  return path.join(lockDir, `guest-${name}.lock`);
}

/**
 * Takes the lock of guest `name` (released when the plan ends, either way), names the guest in the
 * run journal, and then cleans up whatever a dead run left of it: holding the lock, no live run
 * of that guest can be mistaken for a dead one.
 */
export async function lockGuest(lockDir: string, name: string, ctx: StepContext): Promise<LockHandle> {
  const lock = await acquireLock(guestLockPath(lockDir, name), `guest "${name}"`);
  ctx.undo.push(`release the lock of guest ${name}`, () => lock.release());
  ctx.undo.afterCommit(`release the lock of guest ${name}`, () => lock.release());
  ctx.undo.journal?.addGuest(name);
  await ctx.recover?.(name, ctx);
  return lock;
}

/** Shared fixtures for storage tests: a step context, fake executables, host-state snapshots. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LogEvent } from '../../src/log/events.js';
import { UndoStack } from '../../src/plan/undo-stack.js';
import { runCommand } from '../../src/tools/exec.js';
import type { StepScope } from '../../src/plan/plan.js';

/** A context like the executor's, with the events it received. */
export function makeContext(
  signal: AbortSignal = new AbortController().signal,
): StepScope & { events: LogEvent[] } {
  const events: LogEvent[] = [];
  return { undo: new UndoStack(), sink: (e) => events.push(e), signal, events };
}

/** A fresh temporary directory; remove it with `removeDir`. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `xenkit-${prefix}-`));
}

/** Removes a temporary directory and everything in it. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Writes an executable shell script `name` into `binDir`; put `binDir` first on PATH so the
 * code under test runs it instead of the real tool.
 */
export function writeFakeTool(binDir: string, name: string, script: string): string {
  const file = path.join(binDir, name);
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** Runs `fn` with `binDir` first on PATH (runCommand reads PATH at each call). */
export async function withPathFirst<T>(binDir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = `${binDir}:${saved ?? ''}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

/**
 * The loop devices (`losetup -a`) and mounts (/proc/mounts) that involve `markers` (our temp
 * directory, and the `xenkit-mnt-` mount points populate makes): compare before/after to prove
 * nothing leaked. Filtered because other test runs on the host attach and mount at the same time.
 */
export async function hostStorageState(markers: string[]): Promise<{ loops: string[]; mounts: string[] }> {
  const keep = (line: string): boolean => [...markers, 'xenkit-mnt-'].some((m) => line.includes(m));
  const loops = (await runCommand(['losetup', '--all'])).stdout.split('\n').filter(keep).sort();
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter(keep).sort();
  return { loops, mounts };
}

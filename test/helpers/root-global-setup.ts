/**
 * globalSetup of the root project: one xenkit cache directory (root-tree cache, packages) for the
 * whole run, shared by the files that build bookworm guests but do not test the bootstrap (see
 * shared-xenkit-cache.ts), and removed when the run ends. Its name carries the pid of the run
 * that made it, so a run that was killed before its teardown leaves a directory (some 2 GB) that
 * the next run removes once that process is gone.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedXenkitCache: string;
  }
}

const PARENT = '/var/tmp';
const PREFIX = 'xenkit-test-cache-';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the shared caches of earlier runs whose process is gone. */
function removeLeftovers(): void {
  for (const name of fs.readdirSync(PARENT)) {
    const pid = /^xenkit-test-cache-(\d+)-/.exec(name)?.[1];
    if (pid !== undefined && !isAlive(Number(pid)))
      fs.rmSync(path.join(PARENT, name), { recursive: true, force: true });
  }
}

export default function setup(project: TestProject): () => void {
  removeLeftovers();
  const dir = fs.mkdtempSync(path.join(PARENT, `${PREFIX}${process.pid}-`));
  project.provide('sharedXenkitCache', dir);
  return () => {
    if (process.env.KEEP_WORK !== '1') fs.rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * globalSetup of the root project: one xenkit cache directory (root-tree cache, packages) for the
 * whole run, shared by the files that build bookworm guests but do not test the bootstrap (see
 * shared-xenkit-cache.ts), and removed when the run ends.
 */
import fs from 'node:fs';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    sharedXenkitCache: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = fs.mkdtempSync('/var/tmp/xenkit-test-cache-');
  project.provide('sharedXenkitCache', dir);
  return () => {
    if (process.env.KEEP_WORK !== '1') fs.rmSync(dir, { recursive: true, force: true });
  };
}

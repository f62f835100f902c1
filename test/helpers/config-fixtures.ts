/** Shared helpers for config tests: a scratch root, a fixed host, a tree listing. */
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HostFacts } from '../../src/model/host-facts.js';
import { ValidationErrors, XenkitError } from '../../src/errors.js';

/** A Debian bookworm amd64 host with both bootstrappers. */
export const fakeHost: HostFacts = {
  arch: 'amd64',
  osId: 'debian',
  codename: 'bookworm',
  commands: { mmdebstrap: true, debootstrap: true },
  hasKvm: false,
  isXenDom0: false,
};

/** A scratch root with a few files; `files` maps root-relative paths to contents. */
export function makeRoot(files: Record<string, string> = {}): { root: string; cleanup: () => void } {
  const root = mkdtempSync(path.join(tmpdir(), 'xenkit-config-'));
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    if (rel.endsWith('/')) mkdirSync(file, { recursive: true });
    else writeFileSync(file, content);
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Every path under `dir` with size and mtime, to prove nothing was written. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = path.join(d, name);
      const stat = statSync(full);
      out.push(`${path.relative(dir, full)} ${stat.size} ${stat.mtimeMs}`);
      if (stat.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

/** The individual errors inside a thrown error. */
export function errorsOf(error: unknown): XenkitError[] {
  if (error instanceof ValidationErrors) return [...error.errors];
  if (error instanceof XenkitError) return [error];
  throw error;
}

/** Runs `fn`, expecting it to throw; returns the errors. */
export async function expectErrors(fn: () => Promise<unknown>): Promise<XenkitError[]> {
  try {
    await fn();
  } catch (error) {
    return errorsOf(error);
  }
  throw new Error('expected an error, got none');
}

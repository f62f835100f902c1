import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, exitCodeFor, runtimeError, usageError, XenkitError } from '../src/errors.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CODE = /\bE_[A-Z0-9]+(?:_[A-Z0-9]+)*\b/g;

/** Every .ts file under `dir`. */
function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

/** The codes src/ uses (thrown, compared, named in comments), outside the registry itself. */
function codesUsedInSrc(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const file of sourceFiles(path.join(REPO, 'src'))) {
    let text = fs.readFileSync(file, 'utf8');
    if (file.endsWith(`${path.sep}src${path.sep}errors.ts`)) {
      const start = text.indexOf('export const ERROR_CODES');
      const end = text.indexOf('} as const', start);
      expect(start).toBeGreaterThan(0);
      expect(end).toBeGreaterThan(start);
      text = text.slice(0, start) + text.slice(end);
    }
    for (const code of text.match(CODE) ?? []) {
      used.set(code, [...(used.get(code) ?? []), path.relative(REPO, file)]);
    }
  }
  return used;
}

describe('the error-code registry', () => {
  const used = codesUsedInSrc();
  const declared = new Set(Object.keys(ERROR_CODES));

  it('declares every code src/ uses', () => {
    const missing = [...used]
      .filter(([code]) => !declared.has(code))
      .map(([code, files]) => `${code} (${files[0]})`);
    expect(missing).toEqual([]);
  });

  it('declares no code that src/ does not use', () => {
    expect([...declared].filter((code) => !used.has(code))).toEqual([]);
  });

  it('gives every code a one-line meaning', () => {
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(meaning, code).toMatch(/^[a-zA-Z-][^\n]{9,119}$/);
    }
  });

  it('types the code: an undeclared one fails npm run typecheck', () => {
    // @ts-expect-error: E_UNDECLARED is not a key of ERROR_CODES, so this line does not compile.
    const error = usageError('E_UNDECLARED', 'x');
    expect(error.code in ERROR_CODES).toBe(false);
  });

  it('knows every code README.md names', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const named = [...new Set(readme.match(CODE) ?? [])];
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((code) => !declared.has(code))).toEqual([]);
  });
});

describe('exit statuses', () => {
  it.each([
    ['bad input (usageError)', usageError('E_SIZE', 'size "4X" is not a size'), 2],
    ['a runtime failure (runtimeError)', runtimeError('E_EXEC', 'mkfs failed'), 1],
    ['a cancelled run', new XenkitError('E_CANCELLED', 'cancelled', { kind: 'cancelled' }), 130],
    ['an error that is not a XenkitError', new Error('boom'), 1],
  ])('is right for %s', (_what, error, status) => {
    expect(exitCodeFor(error)).toBe(status);
  });
});

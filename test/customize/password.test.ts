import { describe, expect, it } from 'vitest';
import {
  PASSWORD_ALPHABET,
  effectiveHashMethod,
  generatePassword,
  hashPassword,
  isAcceptedHash,
  replaceRootHash,
} from '../../src/customize/password.js';

describe('generatePassword', () => {
  it.each([8, 16, 40])('makes %d characters from the unambiguous alphabet', (length) => {
    const password = generatePassword(length);
    expect(password).toHaveLength(length);
    for (const ch of password) expect(PASSWORD_ALPHABET).toContain(ch);
  });

  it('never uses characters that look alike', () => {
    expect(PASSWORD_ALPHABET).not.toMatch(/[0O1lIo]/);
  });

  it('does not repeat itself', () => {
    const seen = new Set(Array.from({ length: 200 }, () => generatePassword(12)));
    expect(seen.size).toBe(200);
  });

  it('uses every character of the alphabet over many draws', () => {
    const used = new Set(generatePassword(256) + generatePassword(256) + generatePassword(256));
    expect(used.size).toBe(PASSWORD_ALPHABET.length);
  });

  it.each([0, 7, 1000, 3.5])('refuses length %d', (length) => {
    expect(() => generatePassword(length)).toThrow(/out of range/);
  });
});

describe('hash methods', () => {
  it('maps md5 to sha512 with a warning and never writes $1$', async () => {
    expect(effectiveHashMethod('md5')).toEqual({ method: 'sha512', warning: expect.stringContaining('md5') });
    const warnings: string[] = [];
    const hash = await hashPassword('secret-pass', 'md5', { onWarning: (w) => warnings.push(w) });
    expect(hash).toMatch(/^\$6\$/);
    expect(warnings).toHaveLength(1);
  });

  it.each([
    ['sha512', /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/],
    ['sha256', /^\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}$/],
  ] as const)('hashes with %s in-process', async (method, shape) => {
    expect(await hashPassword('secret-pass', method)).toMatch(shape);
  });

  it('refuses a password with a line break', async () => {
    await expect(hashPassword('a\nb', 'sha512')).rejects.toThrow(/line break/);
  });

  it.each([
    ['$6$salt$hash', true],
    ['$5$salt$hash', true],
    ['$y$j9T$salt$hash', true],
    ['$1$salt$hash', false],
    ['abcdEFGHijkl', false],
    ['$6$salt$ha:sh', false],
  ])('accepts %s: %s', (hash, ok) => {
    expect(isAcceptedHash(hash)).toBe(ok);
  });
});

describe('replaceRootHash', () => {
  it("replaces root's hash and change day and leaves every other line alone", () => {
    const shadow =
      'root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nalice:$6$x$y:19001:0:99999:7:::\n';
    const out = replaceRootHash(shadow, '$6$abc$def', 20000);
    expect(out).toBe(
      'root:$6$abc$def:20000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nalice:$6$x$y:19001:0:99999:7:::\n',
    );
  });

  it('fails when there is no root entry', () => {
    expect(() => replaceRootHash('daemon:*:1:0:99999:7:::\n', '$6$a$b')).toThrow(/no root entry/);
  });
});

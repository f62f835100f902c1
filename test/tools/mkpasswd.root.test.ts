import { describe, expect, it } from 'vitest';
import type { LogEvent } from '../../src/log/events.js';
import { runCommand } from '../../src/tools/exec.js';
import { hashWithMkpasswd } from '../../src/tools/mkpasswd.js';
import { generatePassword } from '../../src/customize/password.js';
import { shaCrypt } from '../../src/customize/sha-crypt.js';

/** libxcrypt's own verdict: python3's crypt module hashes with the stored hash as salt. */
async function cryptWithPython(password: string, hash: string): Promise<string> {
  const script =
    'import sys, warnings\nwarnings.simplefilter("ignore")\nimport crypt\nprint(crypt.crypt(sys.stdin.readline().rstrip("\\n"), sys.argv[1]))';
  const result = await runCommand(['python3', '-c', script, hash], { input: `${password}\n` });
  return result.stdout.trim();
}

describe('mkpasswd (real)', () => {
  it('makes a yescrypt hash that libxcrypt verifies, with the password only on stdin', async () => {
    const password = generatePassword(16);
    const events: LogEvent[] = [];
    const hash = await hashWithMkpasswd(password, 'yescrypt', { sink: (e) => events.push(e) });
    expect(hash).toMatch(/^\$y\$/);
    expect(await cryptWithPython(password, hash)).toBe(hash);
    expect(await cryptWithPython(`${password}x`, hash)).not.toBe(hash);
    expect(JSON.stringify(events)).not.toContain(password);
    expect(JSON.stringify(events)).not.toContain(hash);
  });

  it('agrees with the in-process sha512-crypt for the same salt', async () => {
    const password = generatePassword(24);
    expect(await hashWithMkpasswd(password, 'sha512crypt', { salt: 'abcdefgh12345678' })).toBe(
      shaCrypt('sha512', password, 'abcdefgh12345678'),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { generatePassword, hashPassword } from '../../src/customize/password.js';
import { generateSalt, shaCrypt } from '../../src/customize/sha-crypt.js';
import { runCommand } from '../../src/tools/exec.js';

/** `openssl passwd -5/-6 -salt SALT -stdin`: the password on stdin. */
async function opensslPasswd(alg: '5' | '6', salt: string, password: string): Promise<string> {
  const result = await runCommand(['openssl', 'passwd', `-${alg}`, '-salt', salt, '-stdin'], {
    input: `${password}\n`,
  });
  return result.stdout.trim();
}

describe('sha-crypt against openssl passwd (real)', () => {
  const cases = Array.from(
    { length: 6 },
    (_, i) => [generatePassword(8 + i * 7), generateSalt(4 + i * 2)] as const,
  );
  it.each(cases)('sha512 of %j with salt %j matches openssl', async (password, salt) => {
    expect(shaCrypt('sha512', password, salt)).toBe(await opensslPasswd('6', salt, password));
  });
  it.each(cases)('sha256 of %j with salt %j matches openssl', async (password, salt) => {
    expect(shaCrypt('sha256', password, salt)).toBe(await opensslPasswd('5', salt, password));
  });
  it('matches openssl for a password with non-ASCII characters', async () => {
    expect(shaCrypt('sha512', 'pässwörd €', 'salt1234')).toBe(
      await opensslPasswd('6', 'salt1234', 'pässwörd €'),
    );
  });
});

describe('hashPassword (real)', () => {
  it.each(['sha512', 'sha256', 'yescrypt'] as const)(
    'makes a %s hash python3 crypt verifies',
    async (method) => {
      const password = generatePassword(16);
      const hash = await hashPassword(password, method);
      const script =
        'import sys, warnings\nwarnings.simplefilter("ignore")\nimport crypt\nprint(crypt.crypt(sys.stdin.readline().rstrip("\\n"), sys.argv[1]))';
      const result = await runCommand(['python3', '-c', script, hash], { input: `${password}\n` });
      expect(result.stdout.trim()).toBe(hash);
    },
  );
});

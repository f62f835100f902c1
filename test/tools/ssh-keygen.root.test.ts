import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import { fingerprintKey, fingerprintPublicKey, generateKeyPair } from '../../src/tools/ssh-keygen.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-keygen-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ssh-keygen (real)', () => {
  it.each([
    ['ed25519', 256, 'ED25519'],
    ['ecdsa', 256, 'ECDSA'],
    ['rsa', 3072, 'RSA'],
  ] as const)(
    'makes an unencrypted %s key of %d bits and reads its fingerprint',
    async (type, bits, upper) => {
      const file = path.join(dir, `ssh_host_${type}_key`);
      await generateKeyPair(type, file, 'root@web1');
      const print = await fingerprintKey(`${file}.pub`);
      expect(print).toMatchObject({ bits, type: upper, comment: 'root@web1' });
      // The private key opens without a passphrase and yields the same public key.
      const derived = await runCommand(['ssh-keygen', '-y', '-P', '', '-f', file]);
      expect(fs.readFileSync(`${file}.pub`, 'utf8')).toContain(derived.stdout.trim().split(' ')[1]);
      expect((await fingerprintKey(file)).fingerprint).toBe(print.fingerprint);
      // Computed here from the .pub file: the same as ssh-keygen says.
      expect(fingerprintPublicKey(fs.readFileSync(`${file}.pub`, 'utf8'))).toEqual(print);
    },
  );
});

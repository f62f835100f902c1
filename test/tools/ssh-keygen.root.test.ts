import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import {
  fingerprintKey,
  fingerprintPublicKey,
  generateKeyPair,
  raceKeyPair,
} from '../../src/tools/ssh-keygen.js';

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

describe('raceKeyPair (real ssh-keygen)', () => {
  /** ssh-keygen processes whose command line names `dir`. */
  function keygensIn(where: string): string[] {
    return fs
      .readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })
      .filter((cmdline) => cmdline.startsWith('ssh-keygen') && cmdline.includes(where));
  }

  it('keeps one full-size RSA key out of two racers, and leaves no racer or race file behind', async () => {
    const raceDir = fs.mkdtempSync(path.join(dir, 'race-'));
    const keys: string[] = [];
    for (const name of ['a', 'b']) {
      const file = path.join(raceDir, `ssh_host_rsa_key_${name}`);
      await raceKeyPair('rsa', file, `root@${name}`, 2);
      const print = await fingerprintKey(`${file}.pub`);
      expect(print).toMatchObject({ bits: 3072, type: 'RSA', comment: `root@${name}` });
      const derived = await runCommand(['ssh-keygen', '-y', '-P', '', '-f', file]);
      expect(fs.readFileSync(`${file}.pub`, 'utf8')).toContain(derived.stdout.trim().split(' ')[1]);
      keys.push(print.fingerprint);
    }
    expect(new Set(keys).size).toBe(2);
    expect(fs.readdirSync(raceDir).sort()).toEqual([
      'ssh_host_rsa_key_a',
      'ssh_host_rsa_key_a.pub',
      'ssh_host_rsa_key_b',
      'ssh_host_rsa_key_b.pub',
    ]);
    expect(keygensIn(raceDir)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { generateSalt, shaCrypt } from '../../src/customize/sha-crypt.js';

// Vectors from Drepper's specification, sha256 ones as glibc/libxcrypt and openssl 3 compute them.
describe('shaCrypt', () => {
  it.each([
    [
      'sha512',
      'Hello world!',
      'saltstring',
      undefined,
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    ],
    [
      'sha512',
      'Hello world!',
      'saltstringsaltstring',
      10000,
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    ],
    [
      'sha512',
      'a very much longer text to encrypt.  This one even stretches over morethan one line.',
      'anotherlongsaltstring',
      1400,
      '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
    ],
    [
      'sha256',
      'Hello world!',
      'saltstring',
      undefined,
      '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5',
    ],
    [
      'sha256',
      'Hello world!',
      'saltstringsaltstring',
      10000,
      '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
    ],
    [
      'sha256',
      'we have a short salt string but not a short password',
      'roundstoolow',
      1000,
      '$5$rounds=1000$roundstoolow$p20OiWa5GmKDHyeQuvXKgAXjYozUMLD5yQL6RzRpZCC',
    ],
  ] as const)(
    'hashes %s of %j with salt %j and rounds %s as the specification says',
    (alg, password, salt, rounds, expected) => {
      expect(shaCrypt(alg, password, salt, rounds)).toBe(expected);
    },
  );

  it('clamps rounds below 1000 to 1000 as the specification says', () => {
    expect(shaCrypt('sha512', 'pw', 'salt', 10)).toBe(shaCrypt('sha512', 'pw', 'salt', 1000));
  });

  it('makes a different hash for the same password with a fresh salt', () => {
    expect(shaCrypt('sha512', 'secret')).not.toBe(shaCrypt('sha512', 'secret'));
  });

  it('draws salts from the crypt alphabet only', () => {
    const salt = generateSalt();
    expect(salt).toMatch(/^[./0-9A-Za-z]{16}$/);
  });
});

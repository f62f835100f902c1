/**
 * SHA-crypt ($5$ sha256-crypt, $6$ sha512-crypt) in pure TypeScript, after Ulrich Drepper's
 * specification (https://www.akkadia.org/drepper/SHA-crypt.txt), so hashing needs no external tool
 * and the password never leaves this process.
 */
import { createHash, randomBytes } from 'node:crypto';

export type ShaCryptAlgorithm = 'sha256' | 'sha512';

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DEFAULT_ROUNDS = 5000;
const MIN_ROUNDS = 1000;
const MAX_ROUNDS = 999_999_999;
const MAX_SALT = 16;

const PREFIX: Record<ShaCryptAlgorithm, string> = { sha256: '$5$', sha512: '$6$' };

/** A random salt of 16 characters from the crypt alphabet. */
export function generateSalt(length = MAX_SALT): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => ALPHABET[b & 0x3f]).join('');
}

/**
 * Hashes `password` with sha256-crypt or sha512-crypt. The salt is truncated to 16 characters
 * and rounds are clamped, both as the specification says; default rounds are left implicit.
 */
export function shaCrypt(
  algorithm: ShaCryptAlgorithm,
  password: string,
  salt: string = generateSalt(),
  rounds?: number,
): string {
  const size = algorithm === 'sha512' ? 64 : 32;
  const hash = (...parts: Buffer[]): Buffer => {
    const h = createHash(algorithm);
    for (const part of parts) h.update(part);
    return h.digest();
  };
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, MAX_SALT), 'utf8');
  const n =
    rounds === undefined ? DEFAULT_ROUNDS : Math.min(MAX_ROUNDS, Math.max(MIN_ROUNDS, Math.floor(rounds)));

  const b = hash(p, s, p);
  const a = createHash(algorithm).update(p).update(s);
  a.update(repeatTo(b, p.length));
  for (let length = p.length; length > 0; length >>= 1) a.update(length & 1 ? b : p);
  let c = a.digest();

  const pBytes = repeatTo(hash(...Array<Buffer>(p.length).fill(p)), p.length);
  const sBytes = repeatTo(hash(...Array<Buffer>(16 + (c[0] as number)).fill(s)), s.length);

  for (let i = 0; i < n; i++) {
    const h = createHash(algorithm);
    h.update(i & 1 ? pBytes : c);
    if (i % 3 !== 0) h.update(sBytes);
    if (i % 7 !== 0) h.update(pBytes);
    h.update(i & 1 ? c : pBytes);
    c = h.digest();
  }

  const roundsPart = rounds === undefined ? '' : `rounds=${n}$`;
  return `${PREFIX[algorithm]}${roundsPart}${s.toString('utf8')}$${encode(c, size)}`;
}

/** `source` repeated and cut to `length` bytes. */
function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

/** The crypt base-64 encoding with SHA-crypt's byte shuffle. */
function encode(digest: Buffer, size: number): string {
  const at = (i: number): number => digest[i] as number;
  const groups = size === 64 ? 21 : 10;
  const stride = groups;
  let out = '';
  for (let k = 0; k < groups; k++) {
    const triple = [k, k + stride, k + 2 * stride];
    // Each group rotates by one position: the shuffle the specification tabulates.
    const shift = size === 64 ? k % 3 : (3 - (k % 3)) % 3;
    const [x, y, z] = [0, 1, 2].map((j) => triple[(j + shift) % 3] as number) as [number, number, number];
    out += b64(at(x), at(y), at(z), 4);
  }
  out += size === 64 ? b64(0, 0, at(63), 2) : b64(0, at(31), at(30), 3);
  return out;
}

function b64(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += ALPHABET[w & 0x3f];
    w >>= 6;
  }
  return out;
}

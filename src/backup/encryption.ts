/**
 * An encrypted repository (`--encryption-key FILE`): every chunk and manifest sealed with
 * AES-256-GCM (authenticated: a flipped bit or a chunk put under another name fails to open), and
 * chunk ids that are an HMAC-SHA256 of the bytes under a key of the repository instead of their
 * plain SHA-256, so a name says nothing about the content (nobody without the key can tell
 * whether a repository holds a given file's blocks). Deduplication works as before: the same
 * bytes get the same id under the same key.
 *
 * The key file holds at least 32 random bytes (`head -c 32 /dev/urandom > FILE`); three keys are
 * derived from it with HKDF-SHA256 and the repository's random salt: one for ids, one for
 * sealing, and one whose HMAC of a fixed text is kept in xenkit-backup.json to tell a wrong key
 * from damage. The key itself is never stored in the repository.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';

/** The keys of an encrypted repository (derived, never stored). */
export interface RepoKeys {
  /** HMAC key of chunk ids. */
  id: Buffer;
  /** AES-256-GCM key of chunks and manifests. */
  seal: Buffer;
  /** What xenkit-backup.json keeps to recognise the key (hex). */
  check: string;
}

/** What xenkit-backup.json says of an encrypted repository. */
export interface EncryptionMarker {
  scheme: typeof SCHEME;
  /** HKDF salt, hex (random per repository). */
  salt: string;
  /** HMAC-SHA256 of CHECK_TEXT under the check key, hex. */
  check: string;
}

export const SCHEME = 'aes-256-gcm+hmac-sha256-ids+hkdf-sha256';
/** The least key material a key file must hold. */
export const MIN_KEY_BYTES = 32;
const CHECK_TEXT = 'xenkit-backup key check';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** The first bytes of a sealed object: what it is and the format version. */
const SEALED_CHUNK = Buffer.from('XKC1');
const SEALED_MANIFEST = Buffer.from('XKM1');

function derive(secret: Buffer, salt: Buffer, what: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, salt, `xenkit-backup ${what}`, 32));
}

/** The keys for `secret` (a key file's bytes) and the repository's salt. */
export function deriveKeys(secret: Buffer, salt: Buffer): RepoKeys {
  const checkKey = derive(secret, salt, 'check');
  return {
    id: derive(secret, salt, 'chunk id'),
    seal: derive(secret, salt, 'seal'),
    check: createHmac('sha256', checkKey).update(CHECK_TEXT).digest('hex'),
  };
}

/** A new repository's marker and keys: a fresh random salt. */
export function newEncryption(secret: Buffer): { marker: EncryptionMarker; keys: RepoKeys } {
  const salt = randomBytes(32);
  const keys = deriveKeys(secret, salt);
  return { marker: { scheme: SCHEME, salt: salt.toString('hex'), check: keys.check }, keys };
}

/** The keys of an existing repository, or undefined when `secret` is not its key. */
export function openEncryption(marker: EncryptionMarker, secret: Buffer): RepoKeys | undefined {
  const keys = deriveKeys(secret, Buffer.from(marker.salt, 'hex'));
  const want = Buffer.from(marker.check, 'hex');
  const got = Buffer.from(keys.check, 'hex');
  return want.length === got.length && timingSafeEqual(want, got) ? keys : undefined;
}

/** Whether `value` (parsed JSON) is an encryption marker this xenkit reads. */
export function isEncryptionMarker(value: unknown): value is EncryptionMarker {
  const m = value as Partial<EncryptionMarker> | undefined;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.scheme === SCHEME &&
    typeof m.salt === 'string' &&
    /^[0-9a-f]{64}$/.test(m.salt) &&
    typeof m.check === 'string' &&
    /^[0-9a-f]{64}$/.test(m.check)
  );
}

/** The id of a chunk of `data` in an encrypted repository: HMAC-SHA256, hex. */
export function keyedChunkId(keys: RepoKeys, data: Uint8Array): string {
  return createHmac('sha256', keys.id).update(data).digest('hex');
}

function seal(keys: RepoKeys, magic: Buffer, name: string, plain: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.seal, nonce);
  // The name is authenticated with the bytes: a chunk copied under another id does not open.
  cipher.setAAD(Buffer.concat([magic, Buffer.from(name)]));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([magic, nonce, body, cipher.getAuthTag()]);
}

function unseal(keys: RepoKeys, magic: Buffer, name: string, stored: Uint8Array, what: string): Buffer {
  const data = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  if (data.length < magic.length + NONCE_BYTES + TAG_BYTES || !data.subarray(0, magic.length).equals(magic)) {
    throw new Error(`${what} is not sealed (damaged, or written without the key)`);
  }
  const nonce = data.subarray(magic.length, magic.length + NONCE_BYTES);
  const body = data.subarray(magic.length + NONCE_BYTES, data.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', keys.seal, nonce);
  decipher.setAAD(Buffer.concat([magic, Buffer.from(name)]));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new Error(`${what} fails its authentication (damaged, or sealed under another name)`);
  }
}

/** The stored form of chunk `id` (its encoded bytes, chunk-codec.ts), sealed. */
export function sealChunk(keys: RepoKeys, id: string, encoded: Uint8Array): Buffer {
  return seal(keys, SEALED_CHUNK, id, encoded);
}

/** The encoded bytes of sealed chunk `id`; throws an Error saying what is wrong. */
export function openChunk(keys: RepoKeys, id: string, stored: Uint8Array): Buffer {
  return unseal(keys, SEALED_CHUNK, id, stored, 'the chunk');
}

/** The stored form of snapshot `id`'s manifest text, sealed. */
export function sealManifest(keys: RepoKeys, id: string, text: string): Buffer {
  return seal(keys, SEALED_MANIFEST, id, Buffer.from(text));
}

/** The manifest text of sealed snapshot `id`. */
export function openManifest(keys: RepoKeys, id: string, stored: Uint8Array): Buffer {
  return unseal(keys, SEALED_MANIFEST, id, stored, 'the manifest');
}

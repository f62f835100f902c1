/** The root password: generated from the host CSPRNG, hashed without md5, written into /etc/shadow. */
import { randomInt } from 'node:crypto';
import { runtimeError, usageError } from '../errors.js';
import type { HashMethod } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import { hashWithMkpasswd } from '../tools/mkpasswd.js';
import type { EventSink } from '../log/events.js';
import { parseColonFile, renderColonFile } from './colon-files.js';
import { shaCrypt } from './sha-crypt.js';
import type { CustomizeContext } from './types.js';

/** No 0/O/o, 1/l/I: a generated password is read off a screen and typed on a console. */
export const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789';

/** A random password from the host CSPRNG over an unambiguous alphabet. */
export function generatePassword(length = 16): string {
  if (!Number.isInteger(length) || length < 8 || length > 256) {
    throw usageError(
      'E_PASSWORD_LENGTH',
      `password length "${length}" is out of range`,
      'use 8 to 256 characters',
    );
  }
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}

/**
 * The method actually used: md5-crypt is broken, so a `hash_method = md5` from an old
 * xen-tools.conf becomes sha512 with a warning instead of failing the whole run.
 */
export function effectiveHashMethod(method: HashMethod): {
  method: Exclude<HashMethod, 'md5'>;
  warning?: string;
} {
  if (method === 'md5') {
    return { method: 'sha512', warning: 'hash method md5 is insecure; using sha512 instead' };
  }
  return { method };
}

export interface HashPasswordOptions {
  /** Fixed salt (tests); random otherwise. */
  salt?: string;
  onWarning?: (message: string) => void;
  sink?: EventSink;
  signal?: AbortSignal;
}

/** Hashes a password: sha512/sha256 in-process, yescrypt through mkpasswd on stdin. */
export async function hashPassword(
  plain: string,
  method: HashMethod,
  options: HashPasswordOptions = {},
): Promise<string> {
  if (/[\n\r\0]/.test(plain)) {
    throw usageError(
      'E_PASSWORD',
      'the root password contains a line break or NUL',
      'use a single-line password',
    );
  }
  const chosen = effectiveHashMethod(method);
  if (chosen.warning) options.onWarning?.(chosen.warning);
  if (chosen.method === 'yescrypt') {
    return hashWithMkpasswd(plain, 'yescrypt', {
      salt: options.salt,
      sink: options.sink,
      signal: options.signal,
    });
  }
  return shaCrypt(chosen.method, plain, options.salt);
}

/** Whether a crypt hash is one xenkit writes ($6$, $5$, $y$): never md5's $1$. */
export function isAcceptedHash(hash: string): boolean {
  return /^\$(6|5)\$[^:\s]+$|^\$y\$[^:\s]+$/.test(hash);
}

/** Replaces root's hash (and its last-change day) in a shadow file's text, leaving other lines alone. */
export function replaceRootHash(
  shadow: string,
  hash: string,
  today = Math.floor(Date.now() / 86_400_000),
): string {
  const rows = parseColonFile(shadow);
  const root = rows.find((r) => r.fields[0] === 'root');
  if (!root)
    throw runtimeError(
      'E_SHADOW',
      'the guest /etc/shadow has no root entry',
      'is this a complete root tree?',
    );
  root.fields[1] = hash;
  root.fields[2] = String(today);
  return renderColonFile(rows);
}

/** What the password step does (the hash itself is never shown). */
export function describePassword(hasHash: boolean): PlanAction[] {
  return hasHash
    ? [{ kind: 'write', path: '/etc/shadow', mode: 0o640 }]
    : [{ kind: 'note', text: "root password: unchanged (root's shadow entry is left as installed)" }];
}

/** Writes the planner's hash into the guest's /etc/shadow, mode 0640 root:shadow. */
export async function applyPassword(c: CustomizeContext): Promise<void> {
  const hash = c.ids.passwordHash;
  if (hash === undefined) {
    if (c.spec.accounts.rootPassword.kind !== 'none') {
      c.step.sink({
        type: 'warn',
        message: `guest "${c.spec.name}": a root password was asked for but no hash was handed in`,
      });
    }
    return;
  }
  if (!isAcceptedHash(hash)) {
    throw runtimeError(
      'E_PASSWORD_HASH',
      `guest "${c.spec.name}": root password hash is not sha512, sha256 or yescrypt (md5 and DES are refused)`,
      'hash the password with hashPassword(), which never makes md5 ($1$) hashes',
    );
  }
  const shadow = c.editor.read('/etc/shadow');
  if (shadow === undefined) throw runtimeError('E_SHADOW', `guest "${c.spec.name}": /etc/shadow is missing`);
  c.editor.writeFile('/etc/shadow', replaceRootHash(shadow, hash), {
    mode: 0o640,
    uid: 0,
    gid: shadowGid(c),
  });
}

function shadowGid(c: CustomizeContext): number {
  const row = parseColonFile(c.editor.read('/etc/group') ?? '').find((r) => r.fields[0] === 'shadow');
  return row ? Number(row.fields[2]) : 0;
}

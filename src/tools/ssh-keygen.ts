/** ssh-keygen: host keys made on the host (guests have too little entropy early on) and fingerprints. */
import { runtimeError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { runCommand } from './exec.js';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';

export interface KeygenOptions {
  sink?: EventSink;
  signal?: AbortSignal;
}

/** Key sizes: ecdsa P-256 and rsa 3072 (OpenSSH's defaults today); ed25519 has a fixed size. */
const BITS: Record<HostKeyType, string[]> = { ed25519: [], ecdsa: ['-b', '256'], rsa: ['-b', '3072'] };

/** Generates an unencrypted key pair at `file` and `file.pub` with the given comment. */
export async function generateKeyPair(
  type: HostKeyType,
  file: string,
  comment: string,
  options: KeygenOptions = {},
): Promise<void> {
  await runCommand(['ssh-keygen', '-q', '-N', '', '-t', type, ...BITS[type], '-C', comment, '-f', file], {
    sink: options.sink,
    signal: options.signal,
  });
}

export interface KeyFingerprint {
  bits: number;
  /** `SHA256:...`. */
  fingerprint: string;
  comment: string;
  /** Upper-case type as ssh-keygen prints it: ED25519, ECDSA, RSA. */
  type: string;
}

/** Parses one line of `ssh-keygen -l`: `256 SHA256:abc root@web1 (ED25519)`. */
export function parseFingerprint(line: string): KeyFingerprint {
  const match = /^(\d+)\s+(\S+)\s+(.*?)\s*\(([A-Z0-9-]+)\)\s*$/.exec(line.trim());
  if (!match) throw runtimeError('E_SSH_KEYGEN', `cannot read ssh-keygen fingerprint "${line.trim()}"`);
  return {
    bits: Number(match[1]),
    fingerprint: match[2] as string,
    comment: match[3] as string,
    type: match[4] as string,
  };
}

/** The SHA256 fingerprint of a key file (public or private). */
export async function fingerprintKey(file: string, options: KeygenOptions = {}): Promise<KeyFingerprint> {
  const result = await runCommand(['ssh-keygen', '-l', '-E', 'sha256', '-f', file], {
    sink: options.sink,
    signal: options.signal,
  });
  return parseFingerprint(result.stdout.split('\n')[0] ?? '');
}

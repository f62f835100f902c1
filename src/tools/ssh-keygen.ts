/** ssh-keygen: host keys made on the host (guests have too little entropy early on) and fingerprints. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { runtimeError, XenkitError } from '../errors.js';
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

/** The most RSA key generations raceKeyPair runs at once, whatever the number of CPUs. */
export const MAX_KEYGEN_RACERS = 4;

/**
 * How many key generations race for one key: one per idle CPU, i.e. the CPUs this process may use
 * less the 1-minute load average, rounded, 1 to MAX_KEYGEN_RACERS. A racer only gains when it has
 * a CPU of its own: at load 6-7 on this 2-CPU host, two racers took longer than one (median 2.38
 * against 1.62 s, 25 alternating runs, bench/RESULTS.md).
 */
export function keygenRacers(
  cpus: number = os.availableParallelism(),
  load: number = os.loadavg()[0] ?? 0,
): number {
  return Math.max(1, Math.min(MAX_KEYGEN_RACERS, Math.round(cpus - load)));
}

/**
 * Generates a key pair at `file` and `file.pub` like generateKeyPair, with `racers` ssh-keygen
 * processes making independent keys at once (each writes beside `file`, so its directory must be
 * private): the first to finish is renamed into place, the others are killed and their files
 * removed. For RSA, whose prime search takes anywhere from 0.2 to 2 s of CPU here, two racers on
 * two cores cut the median wait by about a third and the slow tail by half. Every racer makes a
 * full-size key from the system's random source, and the one kept is never given out twice;
 * picking one of `racers` independent keys by which came first can at most make a key
 * `racers` times as likely, i.e. costs at most log2(racers) bits of its entropy. Fails only when
 * every racer failed (with the first racer's error), or on cancellation.
 */
export async function raceKeyPair(
  type: HostKeyType,
  file: string,
  comment: string,
  racers: number,
  options: KeygenOptions = {},
): Promise<void> {
  if (racers <= 1) return generateKeyPair(type, file, comment, options);
  const stops = Array.from({ length: racers }, () => new AbortController());
  const cancel = (): void => stops.forEach((stop) => stop.abort());
  options.signal?.addEventListener('abort', cancel, { once: true });
  const files = stops.map((_, index) => `${file}.race${index}`);
  const runs = stops.map((stop, index) =>
    generateKeyPair(type, files[index] as string, comment, { sink: options.sink, signal: stop.signal }).then(
      () => index,
    ),
  );
  try {
    let winner: number | undefined;
    try {
      winner = await Promise.any(runs);
    } catch (error) {
      // Every racer failed (all cancelled, when the caller cancelled): the first one's error.
      throw error instanceof AggregateError ? error.errors[0] : error;
    } finally {
      // The others stop; wait until they have exited, so none outlives this call or writes later.
      stops.forEach((stop, index) => index !== winner && stop.abort());
      await Promise.allSettled(runs);
    }
    if (options.signal?.aborted)
      throw new XenkitError('E_CANCELLED', `cancelled: ssh-keygen -t ${type}`, { kind: 'cancelled' });
    const won = files[winner] as string;
    fs.renameSync(won, file);
    fs.renameSync(`${won}.pub`, `${file}.pub`);
  } finally {
    options.signal?.removeEventListener('abort', cancel);
    for (const racer of files) {
      fs.rmSync(racer, { force: true });
      fs.rmSync(`${racer}.pub`, { force: true });
    }
  }
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

const KEY_TYPES: Record<string, string> = {
  'ssh-ed25519': 'ED25519',
  'ssh-rsa': 'RSA',
  'ssh-dss': 'DSA',
  'ecdsa-sha2-nistp256': 'ECDSA',
  'ecdsa-sha2-nistp384': 'ECDSA',
  'ecdsa-sha2-nistp521': 'ECDSA',
};

/**
 * The fingerprint of a public key line (`TYPE BASE64 COMMENT`, a .pub file) computed here, as
 * `ssh-keygen -l -E sha256` prints it: SHA256 of the key blob, base64 without padding; bits from
 * the key itself (the RSA modulus, the ECDSA curve). Saves a process per key.
 */
export function fingerprintPublicKey(line: string): KeyFingerprint {
  const [name = '', data = '', ...rest] = line.trim().split(/\s+/);
  const type = KEY_TYPES[name];
  const blob = Buffer.from(data, 'base64');
  const fields = type ? readSshStrings(blob) : undefined;
  // ssh-rsa: name, e, n; ecdsa: name, curve, point; ssh-ed25519: name, key; ssh-dss: name, p, q, g, y.
  const wanted = type === 'ED25519' ? 2 : type === 'DSA' ? 5 : 3;
  if (!type || fields?.length !== wanted || fields[0]?.toString('latin1') !== name) {
    throw runtimeError(
      'E_SSH_KEYGEN',
      `not an SSH public key this tool knows: "${line.trim().slice(0, 40)}"`,
    );
  }
  const bits =
    type === 'RSA'
      ? bitLength(fields[2] ?? Buffer.alloc(0))
      : type === 'DSA'
        ? bitLength(fields[1] ?? Buffer.alloc(0))
        : type === 'ED25519'
          ? 256
          : Number(/nistp(\d+)$/.exec(name)?.[1]);
  return {
    bits,
    fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    comment: rest.join(' '),
    type,
  };
}

/** Splits an SSH wire-format blob into its length-prefixed strings; undefined if malformed. */
function readSshStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const length = blob.readUInt32BE(at);
    if (at + 4 + length > blob.length) return undefined;
    out.push(blob.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

/** Bit length of an unsigned big-endian integer (an SSH mpint may lead with a zero byte). */
function bitLength(mpint: Buffer): number {
  let i = 0;
  while (i < mpint.length && mpint[i] === 0) i++;
  if (i === mpint.length) return 0;
  return (mpint.length - i - 1) * 8 + (32 - Math.clz32(mpint[i]!));
}

/**
 * A unique identity per guest, made on the host: fresh SSH host keys (no DSA), an empty
 * machine-id (systemd makes a new one at first boot) and a random seed from the host CSPRNG.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PlanAction, StepContext } from '../plan/plan.js';
import { stateKey } from '../plan/step-state.js';
import { fingerprintPublicKey, keygenRacers, raceKeyPair, type HostKeyType } from '../tools/ssh-keygen.js';
import { takePooledRsaKey } from './host-key-pool.js';
import type { IdentityContext } from './types.js';

export const HOST_KEY_TYPES: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa'];
export const RANDOM_SEED = '/var/lib/systemd/random-seed';
const RANDOM_SEED_BYTES = 512;

/** What the SSH host key step does. */
export function describeSshHostKeys(hostname: string): PlanAction[] {
  return [
    { kind: 'remove', path: '/etc/ssh/ssh_host_*_key{,.pub}' },
    ...HOST_KEY_TYPES.flatMap((type): PlanAction[] => [
      {
        kind: 'run',
        argv: [
          'ssh-keygen',
          '-q',
          '-N',
          '',
          '-t',
          type,
          '-C',
          `root@${hostname}`,
          '-f',
          `<tmp>/ssh_host_${type}_key`,
        ],
      },
      { kind: 'write', path: `/etc/ssh/ssh_host_${type}_key`, mode: 0o600 },
      { kind: 'write', path: `/etc/ssh/ssh_host_${type}_key.pub`, mode: 0o644 },
    ]),
  ];
}

/** Host keys made on the host in a private temporary directory, with their fingerprints. */
export interface HostKeySet {
  dir: string;
  keys: { type: HostKeyType; bits: number; fingerprint: string }[];
  /** Removes the temporary directory (idempotent). */
  dispose(): void;
}

/** Where host keys come from: made now, and the RSA one from a pool of spares when given. */
export interface HostKeyOptions {
  sink?: StepContext['sink'];
  signal?: AbortSignal;
  /** A host key pool directory (host-key-pool.ts) to take the RSA key from, if it has one. */
  pool?: string;
}

/**
 * Makes the three host keys at once, on every core. RSA 3072 dominates (0.2-2 s of prime search
 * here): when the pool has none, one RSA keygen per idle CPU races for it (raceKeyPair).
 */
export async function generateHostKeys(comment: string, options: HostKeyOptions = {}): Promise<HostKeySet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-hostkeys-'));
  const dispose = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const keys = await Promise.all(
      HOST_KEY_TYPES.map(async (type) => {
        const file = path.join(dir, `ssh_host_${type}_key`);
        const pooled = type === 'rsa' && options.pool !== undefined;
        if (!pooled || !(await takePooledRsaKey(options.pool!, file, comment, options)))
          await raceKeyPair(type, file, comment, type === 'rsa' ? keygenRacers() : 1, options);
        const print = fingerprintPublicKey(fs.readFileSync(`${file}.pub`, 'utf8'));
        return { type, bits: print.bits, fingerprint: print.fingerprint };
      }),
    );
    return { dir, keys, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** The host keys startHostKeysAhead started making, and for which guest. */
export const HOST_KEYS_AHEAD = stateKey<{ hostname: string; keys: Promise<HostKeySet> }>(
  'customize.hostKeysAhead',
);

/**
 * Starts making the host keys for `hostname` now, in the background of the steps that follow
 * (copying or installing the image), so the customization only has to copy them in. The keys
 * are removed again when the command ends, whichever way it ends.
 */
export function startHostKeysAhead(hostname: string, ctx: StepContext, pool?: string): void {
  const keys = generateGuestHostKeys(hostname, ctx, pool);
  // Awaited later (or never, when an earlier step fails); a failure surfaces where it is awaited.
  keys.catch(() => undefined);
  const dispose = async (): Promise<void> => (await keys.catch(() => undefined))?.dispose();
  ctx.undo.push('remove the host keys made ahead', dispose);
  ctx.undo.afterCommit('remove the host keys made ahead', dispose);
  HOST_KEYS_AHEAD.set(ctx, { hostname, keys });
}

/** The keys started by startHostKeysAhead for `hostname`, or fresh ones. */
async function hostKeysFor(hostname: string, ctx: StepContext): Promise<HostKeySet> {
  const ahead = HOST_KEYS_AHEAD.get(ctx);
  if (ahead?.hostname === hostname) return ahead.keys;
  return generateGuestHostKeys(hostname, ctx);
}

/** The host keys of guest `hostname` (comment `root@HOSTNAME`), made now (RSA from `pool` if it has one). */
function generateGuestHostKeys(hostname: string, ctx: StepContext, pool?: string): Promise<HostKeySet> {
  return generateHostKeys(`root@${hostname}`, { sink: ctx.sink, signal: ctx.signal, pool });
}

/**
 * Replaces every host key in the guest with fresh ones. Keys are made in a private temporary
 * directory on the host and then copied in, so ssh-keygen never writes through a guest symlink.
 */
export async function applySshHostKeys(c: IdentityContext): Promise<void> {
  if (!c.editor.exists('/etc/ssh')) {
    c.step.sink({ type: 'info', message: `guest "${c.spec.name}": no /etc/ssh, no SSH host keys made` });
    return;
  }
  for (const name of c.editor.list('/etc/ssh')) {
    if (/^ssh_host_.*_key(\.pub)?$/.test(name)) c.editor.remove(`/etc/ssh/${name}`);
  }
  const set = await hostKeysFor(c.spec.name, c.step);
  try {
    for (const key of set.keys) {
      const file = path.join(set.dir, `ssh_host_${key.type}_key`);
      c.editor.writeFile(`/etc/ssh/ssh_host_${key.type}_key`, fs.readFileSync(file), {
        mode: 0o600,
        uid: 0,
        gid: 0,
      });
      c.editor.writeFile(`/etc/ssh/ssh_host_${key.type}_key.pub`, fs.readFileSync(`${file}.pub`), {
        mode: 0o644,
        uid: 0,
        gid: 0,
      });
      c.result.sshHostKeys.push({ type: key.type, bits: key.bits, fingerprint: key.fingerprint });
    }
  } finally {
    set.dispose();
  }
}

/** What the machine-id step does. */
export function describeMachineId(): PlanAction[] {
  return [
    { kind: 'write', path: '/etc/machine-id', mode: 0o444, content: '' },
    { kind: 'symlink', path: '/var/lib/dbus/machine-id', target: '/etc/machine-id' },
  ];
}

/**
 * Empties /etc/machine-id: present but empty tells systemd "first boot", and it writes a new id;
 * a missing file would be treated differently (and a copied one would clone the identity).
 */
export async function applyMachineId(c: IdentityContext): Promise<void> {
  c.editor.writeFile('/etc/machine-id', '', { mode: 0o444, uid: 0, gid: 0 });
  if (c.editor.isPresent('/var/lib/dbus/machine-id') || c.editor.exists('/var/lib/dbus')) {
    c.editor.symlink('/var/lib/dbus/machine-id', '/etc/machine-id');
  }
}

/** What the random-seed step does. */
export function describeRandomSeed(): PlanAction[] {
  return [{ kind: 'write', path: RANDOM_SEED, mode: 0o600 }];
}

/** Seeds the guest's kernel pool at first boot from the host CSPRNG. */
export async function applyRandomSeed(c: IdentityContext): Promise<void> {
  c.editor.mkdir('/var/lib/systemd', { mode: 0o755 });
  c.editor.writeFile(RANDOM_SEED, randomBytes(RANDOM_SEED_BYTES), { mode: 0o600, uid: 0, gid: 0 });
}

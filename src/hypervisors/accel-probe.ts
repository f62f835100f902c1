/**
 * KVM or TCG for QEMU guests, with the reason. KVM needs the CPU's virtualisation extensions
 * (vmx/svm in /proc/cpuinfo), a /dev/kvm we can open read-write, and QEMU able to create a VM
 * on it. A /dev/kvm without vmx/svm (a nested or emulated one, as on some CI machines) passes
 * the last two and hangs real guests, which is why the flags come first.
 * Overrides: the `accel` option, then XENKIT_ACCEL.
 */
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../errors.js';
import { probeQemuKvm } from '../tools/qemu-system.js';

/** Environment variable that forces the accelerator (`kvm` or `tcg`). */
export const ACCEL_ENV = 'XENKIT_ACCEL';

/** The accelerator and why it was chosen. */
export interface AccelChoice {
  kind: 'kvm' | 'tcg';
  reason: string;
}

export interface AccelProbeOptions {
  /** `kvm` or `tcg` from the command line; wins over the environment. */
  accel?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where /proc and /dev are (`/`; a scratch tree in tests). */
  hostRoot?: string;
  /** Asks QEMU to create a KVM VM; injectable for tests. */
  probeQemu?: () => Promise<{ ok: boolean; message: string }>;
}

/** Parses an accelerator name given by `source`. */
export function parseAccel(value: string, source: string): 'kvm' | 'tcg' {
  const kind = value.trim().toLowerCase();
  if (kind === 'kvm' || kind === 'tcg') return kind;
  throw usageError('E_ACCEL', `${source} "${value}" is not an accelerator`, 'use kvm or tcg');
}

/** Chooses KVM or TCG for this host. */
export async function probeAccel(options: AccelProbeOptions = {}): Promise<AccelChoice> {
  if (options.accel !== undefined && options.accel !== '') {
    const kind = parseAccel(options.accel, '--accel');
    return { kind, reason: `chosen by --accel=${kind}` };
  }
  const fromEnv = (options.env ?? process.env)[ACCEL_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const kind = parseAccel(fromEnv, ACCEL_ENV);
    return { kind, reason: `chosen by ${ACCEL_ENV}=${kind}` };
  }
  const hostRoot = options.hostRoot ?? '/';
  const cpuinfo = path.join(hostRoot, 'proc/cpuinfo');
  const flags = cpuFlags(await readFile(cpuinfo, 'utf8').catch(() => ''));
  if (!flags.has('vmx') && !flags.has('svm')) {
    return {
      kind: 'tcg',
      reason: `no vmx or svm flag in ${cpuinfo}: the CPU offers no hardware virtualisation`,
    };
  }
  const kvm = path.join(hostRoot, 'dev/kvm');
  try {
    await access(kvm, constants.R_OK | constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    return { kind: 'tcg', reason: `${kvm} is not usable (${code})` };
  }
  const qemu = await (options.probeQemu ?? probeQemuKvm)().catch((error: unknown) => ({
    ok: false,
    message: error instanceof Error ? error.message : String(error),
  }));
  if (!qemu.ok) return { kind: 'tcg', reason: `QEMU cannot use KVM: ${qemu.message}` };
  return {
    kind: 'kvm',
    reason: `CPU has ${flags.has('vmx') ? 'vmx' : 'svm'}, ${kvm} opens, and ${qemu.message}`,
  };
}

/**
 * Whether probeAccel would choose TCG, answered without running QEMU: an override, else no
 * vmx/svm flag or no usable /dev/kvm. A host that passes both is taken to have KVM.
 */
export async function choosesTcgWithoutQemu(options: AccelProbeOptions = {}): Promise<boolean> {
  const choice = await probeAccel({
    ...options,
    probeQemu: () => Promise.resolve({ ok: true, message: 'not asked' }),
  });
  return choice.kind === 'tcg';
}

/** The flags of the first CPU in /proc/cpuinfo text. */
export function cpuFlags(cpuinfo: string): Set<string> {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  return new Set(
    line
      ? line
          .replace(/^flags\s*:/, '')
          .trim()
          .split(/\s+/)
      : [],
  );
}

import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { choosesTcgWithoutQemu, probeAccel } from '../../src/hypervisors/accel-probe.js';
import { XenkitError } from '../../src/errors.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A scratch host with the given CPU flags and, optionally, a /dev/kvm file. */
function host(flags: string, kvm: 'rw' | 'missing'): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'accel-'));
  roots.push(root);
  mkdirSync(path.join(root, 'proc'));
  mkdirSync(path.join(root, 'dev'));
  writeFileSync(path.join(root, 'proc/cpuinfo'), `processor\t: 0\nflags\t\t: fpu ${flags} sse2\n\n`);
  if (kvm !== 'missing') {
    writeFileSync(path.join(root, 'dev/kvm'), '');
    chmodSync(path.join(root, 'dev/kvm'), 0o600);
  }
  return root;
}

const qemuOk = async () => ({ ok: true, message: 'qemu-system-x86_64 -accel kvm starts' });
const qemuFails = async () => ({ ok: false, message: 'failed to initialize kvm: No such device' });

describe('probeAccel', () => {
  it.each([
    ['hypervisor', 'rw', qemuOk, 'tcg', /no vmx or svm flag/],
    ['vmx', 'missing', qemuOk, 'tcg', /dev\/kvm is not usable \(ENOENT\)/],
    ['svm', 'rw', qemuFails, 'tcg', /QEMU cannot use KVM: failed to initialize kvm/],
    ['vmx', 'rw', qemuOk, 'kvm', /CPU has vmx/],
  ] as const)(
    'with flags %s and /dev/kvm %s answers as expected',
    async (flags, kvm, probeQemu, kind, reason) => {
      const choice = await probeAccel({ hostRoot: host(flags, kvm), env: {}, probeQemu });
      expect(choice.kind).toBe(kind);
      expect(choice.reason).toMatch(reason);
    },
  );

  it('lets the option win over XENKIT_ACCEL, and XENKIT_ACCEL over probing', async () => {
    const root = host('hypervisor', 'missing');
    expect(await probeAccel({ accel: 'kvm', env: { XENKIT_ACCEL: 'tcg' }, hostRoot: root })).toEqual({
      kind: 'kvm',
      reason: 'chosen by --accel=kvm',
    });
    expect(await probeAccel({ env: { XENKIT_ACCEL: 'KVM' }, hostRoot: root })).toEqual({
      kind: 'kvm',
      reason: 'chosen by XENKIT_ACCEL=kvm',
    });
  });

  it('rejects an unknown accelerator as a usage error naming where it came from', async () => {
    const error: unknown = await probeAccel({ env: { XENKIT_ACCEL: 'hvf' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect(error).toMatchObject({
      code: 'E_ACCEL',
      kind: 'usage',
      message: 'XENKIT_ACCEL "hvf" is not an accelerator',
    });
  });
});

describe('choosesTcgWithoutQemu', () => {
  it.each([
    ['hypervisor', 'rw', {}, true],
    ['vmx', 'missing', {}, true],
    ['vmx', 'rw', {}, false],
    ['vmx', 'rw', { XENKIT_ACCEL: 'tcg' }, true],
    ['hypervisor', 'missing', { XENKIT_ACCEL: 'kvm' }, false],
  ] as const)(
    'with flags %s, /dev/kvm %s and %o says %s, and never runs QEMU',
    async (flags, kvm, env, tcg) => {
      expect(await choosesTcgWithoutQemu({ hostRoot: host(flags, kvm), env })).toBe(tcg);
    },
  );
});

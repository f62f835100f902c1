import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuFlags, probeAccel } from '../../src/hypervisors/accel-probe.js';
import { probeQemuKvm } from '../../src/tools/qemu-system.js';

describe('probeAccel on this host', () => {
  it('answers TCG exactly when the CPU has no vmx/svm, whatever /dev/kvm says', async () => {
    const flags = cpuFlags(readFileSync('/proc/cpuinfo', 'utf8'));
    const choice = await probeAccel({ env: {} });
    if (!flags.has('vmx') && !flags.has('svm')) {
      expect(choice).toEqual({
        kind: 'tcg',
        reason: 'no vmx or svm flag in /proc/cpuinfo: the CPU offers no hardware virtualisation',
      });
    } else {
      expect(['kvm', 'tcg']).toContain(choice.kind);
    }
  });

  it('asks the real QEMU whether it can create a KVM VM and gets an answer', async () => {
    const answer = await probeQemuKvm();
    expect(answer.message).not.toBe('');
    expect(typeof answer.ok).toBe('boolean');
  });
});

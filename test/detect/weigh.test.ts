import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Evidence, Hypervisor, Indication, Weight } from '../../src/detect/evidence.js';
import { hypervisorSysfsEvidence } from '../../src/detect/platform.js';
import { probeRoot } from '../../src/detect/probe-root.js';
import { chooseHypervisor, supportsHypervisor, weighEvidence } from '../../src/detect/weigh.js';

function ev(name: string, weight: Weight, indicates: Indication): Evidence {
  return { name, source: `/${name}`, value: 'v', meaning: 'm', weight, indicates };
}
const vm = (name: string, weight: Weight, hypervisor?: Hypervisor): Evidence =>
  ev(name, weight, { kind: 'virtual', ...(hypervisor ? { hypervisor } : {}) });

describe('weighEvidence', () => {
  it('calls nothing virtual without evidence', () => {
    const { verdict } = weighEvidence([ev('cpuid', 2, { kind: 'bare-metal' })]);
    expect(verdict).toMatchObject({ isVirtual: false, hypervisor: undefined, isContainer: false });
    expect(verdict.summary).toBe('not virtual (bare metal); not in a container');
  });

  it('needs more than weak hints: a KVM MAC and no RTC are not a VM', () => {
    expect(weighEvidence([vm('mac', 1, 'qemu'), vm('rtc', 1)]).verdict.isVirtual).toBe(false);
  });

  it('lets a hypervisor that hides the CPUID bit be found by the rest', () => {
    const { verdict, evidence } = weighEvidence([
      ev('cpuid', 2, { kind: 'bare-metal' }),
      vm('sys.hypervisor.type', 5, 'xen'),
      vm('bus.xen', 3, 'xen'),
    ]);
    expect(verdict).toMatchObject({ isVirtual: true, hypervisor: 'xen' });
    expect(evidence[0]).toMatchObject({
      believed: false,
      why: expect.stringMatching(/^outweighed by the evidence for a hypervisor/),
    });
  });

  it.each<[string, Evidence[], Hypervisor]>([
    [
      'PVM over the KVM interfaces it speaks',
      [vm('sig', 5, 'kvm'), vm('clock', 3, 'kvm'), vm('kernel', 5, 'pvm')],
      'pvm',
    ],
    ['KVM under a QEMU machine', [vm('dmi', 3, 'qemu'), vm('sig', 5, 'kvm'), vm('mac', 1, 'qemu')], 'kvm'],
    ['QEMU TCG by its signature', [vm('dmi', 3, 'qemu'), vm('sig', 5, 'qemu-tcg')], 'qemu-tcg'],
    ['plain QEMU when nothing tells the accelerator', [vm('dmi', 3, 'qemu'), vm('mac', 1, 'qemu')], 'qemu'],
    [
      'Xen behind a Hyper-V signature (viridian)',
      [vm('sig', 5, 'hyperv'), vm('sig100', 5, 'xen'), vm('type', 5, 'xen')],
      'xen',
    ],
  ])('chooses %s', (_label, items, want) => {
    expect(chooseHypervisor(items)).toBe(want);
  });

  it('marks evidence for another hypervisor as not believed, naming the weightier evidence', () => {
    const { evidence } = weighEvidence([
      vm('kernel', 5, 'pvm'),
      vm('sig', 5, 'kvm'),
      vm('usercpuid', 3, 'bhyve'),
    ]);
    expect(evidence[2]).toMatchObject({ believed: false });
    expect(evidence[2]!.why).toBe(
      'points at bhyve, but the weightier evidence says pvm: kernel (v), sig (v)',
    );
  });

  it('weighs Xen role and mode only under Xen', () => {
    const xen = weighEvidence([
      vm('type', 5, 'xen'),
      ev('caps', 5, { kind: 'xen-role', role: 'domU' }),
      ev('backend', 2, { kind: 'xen-role', role: 'dom0' }),
      ev('guest_type', 5, { kind: 'xen-mode', mode: 'pvh' }),
    ]);
    expect(xen.verdict.summary).toBe('virtual: xen domU (pvh); not in a container');
    expect(xen.evidence[2]).toMatchObject({ believed: false, why: 'the weightier evidence says domU' });
    const kvm = weighEvidence([vm('sig', 5, 'kvm'), ev('guest_type', 5, { kind: 'xen-mode', mode: 'pv' })]);
    expect(kvm.verdict.xenMode).toBeUndefined();
    expect(kvm.evidence[1]).toMatchObject({ believed: false, why: 'not under Xen' });
  });

  it.each<[string, Evidence[], string | undefined]>([
    [
      'believes container= of PID 1',
      [
        ev('environ', 5, { kind: 'container', container: 'podman' }),
        ev('kthreadd', 2, { kind: 'container' }),
      ],
      'podman',
    ],
    [
      'believes /.dockerenv inside a PID namespace',
      [
        ev('dockerenv', 2, { kind: 'container', container: 'docker' }),
        ev('kthreadd', 2, { kind: 'container' }),
      ],
      'docker',
    ],
    [
      'does not believe /.dockerenv beside kthreadd',
      [
        ev('dockerenv', 2, { kind: 'container', container: 'docker' }),
        ev('kthreadd', 3, { kind: 'no-container' }),
      ],
      undefined,
    ],
    [
      'does not believe /.dockerenv alone',
      [ev('dockerenv', 2, { kind: 'container', container: 'docker' })],
      undefined,
    ],
  ])('%s', (_label, items, want) => {
    expect(weighEvidence(items).verdict.container).toBe(want);
  });
});

describe('supportsHypervisor', () => {
  it.each<[Hypervisor, Hypervisor, boolean]>([
    ['pvm', 'kvm', true],
    ['pvm', 'qemu', true],
    ['kvm', 'pvm', false],
    ['qemu-tcg', 'qemu', true],
    ['qemu-tcg', 'kvm', false],
    ['xen', 'hyperv', false],
  ])('%s is supported by evidence for %s: %s', (chosen, evidence, want) => {
    expect(supportsHypervisor(chosen, evidence)).toBe(want);
  });
});

describe('the Xen domain UUID', () => {
  it.each([
    ['00000000-0000-0000-0000-000000000000', 'dom0'],
    ['4a1c1e53-6d5c-4d2b-9e2f-2a4c8b1d7f00', 'domU'],
  ])('reads %s as %s', async (uuid, role) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-detect-'));
    try {
      fs.mkdirSync(path.join(dir, 'sys/hypervisor'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'sys/hypervisor/type'), 'xen\n');
      fs.writeFileSync(path.join(dir, 'sys/hypervisor/uuid'), `${uuid}\n`);
      const items = await hypervisorSysfsEvidence(probeRoot(dir));
      expect(weighEvidence(items).verdict.xenRole).toBe(role);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

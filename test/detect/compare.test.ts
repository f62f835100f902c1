/**
 * The other detectors' answers next to xenkit's, on the captured machines, with what
 * systemd-detect-virt (252) and virt-what (1.25) really said on each of them.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareSystemdDetectVirt, compareVirtWhat } from '../../src/detect/compare.js';
import { detectVirtualization } from '../../src/detect/detect.js';
import { REPO } from '../helpers/cli.js';

const FIXTURES = path.join(REPO, 'test/fixtures/detect');
const detectIn = (env: string) => detectVirtualization({ root: path.join(FIXTURES, env) });

describe('comparing with systemd-detect-virt and virt-what', () => {
  it('explains bhyve on the PVM host by the user-mode CPUID, and docker by an unbelieved /.dockerenv', async () => {
    const { verdict, evidence } = await detectIn('pvm-host');
    const sdv = compareSystemdDetectVirt({ vm: 'bhyve', container: 'docker' }, verdict, evidence);
    expect(sdv.agrees).toBe(false);
    expect(sdv.said).toBe('vm: bhyve, container: docker');
    expect(sdv.why[0]).toMatch(
      /^it says bhyve, xenkit says pvm; it runs the CPUID instruction in user mode, while the kernel's own CPUID \(\/dev\/cpu\/0\/cpuid\) reads "KVMKVMKVM": under PVM/,
    );
    expect(sdv.why[1]).toMatch(
      /^it says docker from hints xenkit does not believe \(container\.dockerenv \(present\)\)/,
    );
    const vw = compareVirtWhat(['bhyve', 'docker'], verdict, evidence);
    expect(vw).toMatchObject({ agrees: false, said: 'bhyve, docker' });
    expect(vw.why).toHaveLength(2);
  });

  it('agrees with qemu for a TCG guest but not with docker', async () => {
    const { verdict, evidence } = await detectIn('qemu-tcg');
    const sdv = compareSystemdDetectVirt({ vm: 'qemu', container: 'docker' }, verdict, evidence);
    expect(sdv.why).toHaveLength(1);
    expect(sdv.why[0]).toMatch(/^it says docker/);
    expect(compareSystemdDetectVirt({ vm: 'qemu', container: 'none' }, verdict, evidence).agrees).toBe(true);
  });

  it('says why systemd-detect-virt calls a Xen dom0 qemu, and agrees with virt-what on xen-dom0', async () => {
    const { verdict, evidence } = await detectIn('xen-dom0');
    const sdv = compareSystemdDetectVirt({ vm: 'qemu', container: 'none' }, verdict, evidence);
    expect(sdv.why).toEqual([expect.stringMatching(/^it says qemu, xenkit says xen; .*"XenVMMXenVMM"/)]);
    const none = compareSystemdDetectVirt({ vm: 'none', container: 'none' }, verdict, evidence);
    expect(none.why[0]).toMatch(/counts a Xen dom0 as the host/);
    expect(compareVirtWhat(['xen', 'xen-dom0'], verdict, evidence)).toMatchObject({ agrees: true, why: [] });
    expect(compareVirtWhat(['xen', 'xen-domU'], verdict, evidence).why).toEqual([
      'it says domU, xenkit says dom0',
    ]);
  });
});

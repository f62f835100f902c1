/**
 * `detect` on trees captured from real machines with scripts/capture-detect.sh (committed under
 * test/fixtures/detect/). What each machine is was established apart from xenkit:
 * - pvm-host: the development machine. Its kernel log says "Hypervisor detected: PVM" and
 *   "pvm-pv: running under PVM"; its kernel command line boots /process_api as init (a
 *   Firecracker-style microVM: no DMI, no RTC, virtio devices over MMIO); PID 2 is kthreadd, so
 *   there is no PID namespace, while /.dockerenv is present (left in the image). A user-mode
 *   CPUID (a C program) reads "bhyve bhyve ", the kernel's cpuid device "KVMKVMKVM".
 * - qemu-tcg: a QEMU 7.2 guest of the VM test bed (`-accel tcg`, -cpu max, the host's
 *   userspace over 9p, so /.dockerenv shows there too).
 * - xen-dom0: dom0 of the nested Xen 4.17 of the VM test bed (a pv dom0 under TCG).
 * - xen-pv-domu, xen-pvh-domu: guests of that Xen (`xl create` with type pv and pvh, the busybox
 *   guest of test/vm/xen-guest.ts booted with `extra = "xenkit.detect-capture"`, no disk or NIC),
 *   captured at boot by scripts/capture-detect.sh.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  detectVirtualization,
  RECORDED_SYSTEMD_DETECT_VIRT,
  RECORDED_VIRT_WHAT,
} from '../../src/detect/detect.js';
import { REPO } from '../helpers/cli.js';

const FIXTURES = path.join(REPO, 'test/fixtures/detect');

async function detectIn(env: string) {
  return detectVirtualization({ root: path.join(FIXTURES, env) });
}

function item(report: Awaited<ReturnType<typeof detectIn>>, name: string) {
  const found = report.evidence.find((e) => e.name === name);
  if (!found) throw new Error(`no evidence ${name}`);
  return found;
}

describe('detect on captured machines', () => {
  it.each([
    [
      'pvm-host',
      { virtual: true, hypervisor: 'pvm', container: undefined, summary: 'virtual: pvm; not in a container' },
    ],
    [
      'qemu-tcg',
      {
        virtual: true,
        hypervisor: 'qemu-tcg',
        container: undefined,
        summary: 'virtual: qemu-tcg; not in a container',
      },
    ],
  ])('gives the established verdict for %s', async (env, want) => {
    const { verdict } = await detectIn(env);
    expect(verdict.isVirtual).toBe(want.virtual);
    expect(verdict.hypervisor).toBe(want.hypervisor);
    expect(verdict.container).toBe(want.container);
    expect(verdict.summary).toBe(want.summary);
  });

  it('reads the kernel CPUID signature of the PVM host as KVM, and the kernel line as PVM', async () => {
    const report = await detectIn('pvm-host');
    expect(item(report, 'cpuid.signature')).toMatchObject({ value: '"KVMKVMKVM"', believed: true });
    expect(item(report, 'kernel.hypervisor-detected')).toMatchObject({
      value: 'Hypervisor detected: PVM',
      believed: true,
    });
    expect(report.cpuidMethod).toBe('/dev/cpu/0/cpuid');
  });

  it('does not believe /.dockerenv where PID 2 is kthreadd and PID 1 is the kernel init', async () => {
    const report = await detectIn('pvm-host');
    const hint = item(report, 'container.dockerenv');
    expect(hint.believed).toBe(false);
    expect(hint.why).toMatch(/container\.kthreadd \(kthreadd \(ppid 0\)\).*container\.pid1 \(process_api/);
    expect(item(report, 'container.pid1').value).toBe('process_api (kernel init=/process_api)');
  });

  it('tells QEMU without acceleration by its TCG signature, and does not believe "bare hardware"', async () => {
    const report = await detectIn('qemu-tcg');
    expect(item(report, 'cpuid.signature').value).toBe('"TCGTCGTCGTCG"');
    expect(item(report, 'dmi.sys_vendor')).toMatchObject({ value: 'QEMU', believed: true });
    const banner = item(report, 'kernel.booting-on');
    expect(banner.value).toBe('Booting paravirtualized kernel on bare hardware');
    expect(banner.believed).toBe(false);
    expect(item(report, 'container.dockerenv').believed).toBe(false);
  });

  it.runIf(fs.existsSync(path.join(FIXTURES, 'xen-dom0')))('finds the Xen dom0 in pv mode', async () => {
    const { verdict } = await detectIn('xen-dom0');
    expect(verdict).toMatchObject({ isVirtual: true, hypervisor: 'xen', xenRole: 'dom0', xenMode: 'pv' });
    expect(verdict.summary).toBe('virtual: xen dom0 (pv); not in a container');
  });

  it.each([
    ['xen-pv-domu', 'pv'],
    ['xen-pvh-domu', 'pvh'],
  ])('finds a Xen domU in %s mode by its own domain UUID (no xenfs, no devices here)', async (env, mode) => {
    const report = await detectIn(env);
    expect(report.verdict).toMatchObject({
      isVirtual: true,
      hypervisor: 'xen',
      xenRole: 'domU',
      xenMode: mode,
      container: undefined,
    });
    expect(report.verdict.summary).toBe(`virtual: xen domU (${mode}); not in a container`);
    expect(item(report, 'sys.hypervisor.uuid').value).not.toMatch(/^[0-]+$/);
  });

  it('believes guest_type PVH over the kernel line "Xen HVM" of a PVH guest', async () => {
    const report = await detectIn('xen-pvh-domu');
    const hvm = report.evidence.find((e) => e.name === 'kernel.xen-mode' && e.value.includes('HVM'));
    expect(hvm).toMatchObject({ believed: false, why: 'the weightier evidence says pvh' });
  });

  it('asks no other detector about a captured tree', async () => {
    let asked = 0;
    const report = await detectVirtualization({
      root: path.join(FIXTURES, 'pvm-host'),
      systemdDetectVirt: async () => {
        asked += 1;
        return { vm: 'kvm', container: 'none' };
      },
    });
    expect(asked).toBe(0);
    expect(report.others).toEqual([]);
  });
});

describe('detect on a capture that recorded the other detectors', () => {
  it('compares the recorded answers with the verdict instead of asking the tools here', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-detect-'));
    try {
      fs.cpSync(path.join(FIXTURES, 'pvm-host'), dir, { recursive: true });
      fs.mkdirSync(path.join(dir, '.capture'));
      // What this host's detectors say (see the header): bhyve, and docker for the stray /.dockerenv.
      fs.writeFileSync(path.join(dir, RECORDED_SYSTEMD_DETECT_VIRT), 'bhyve\ndocker\n');
      fs.writeFileSync(path.join(dir, RECORDED_VIRT_WHAT), 'bhyve\ndocker\n');
      let asked = 0;
      const report = await detectVirtualization({
        root: dir,
        systemdDetectVirt: async () => {
          asked += 1;
          return { vm: 'none', container: 'none' };
        },
      });
      expect(asked).toBe(0);
      expect(report.others.map((o) => [o.tool, o.said, o.agrees])).toEqual([
        ['systemd-detect-virt', 'vm: bhyve, container: docker', false],
        ['virt-what', 'bhyve, docker', false],
      ]);
      expect(report.others[0]!.why.join(' ')).toMatch(/docker/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('detect when the kernel log has rotated', () => {
  it('still finds KVM by CPUID and clock on the PVM host, and says the boot lines are gone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-detect-'));
    try {
      fs.cpSync(path.join(FIXTURES, 'pvm-host'), dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'dev/kmsg'), '[  812.104772] eth0: link up\n');
      const report = await detectVirtualization({ root: dir });
      // PVM speaks KVM's interfaces; without the kernel's own word, KVM is all the evidence shows.
      expect(report.verdict.hypervisor).toBe('kvm');
      expect(item(report, 'kernel.hypervisor-detected').value).toBe(
        'no such line (the log starts at 812.1 s)',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

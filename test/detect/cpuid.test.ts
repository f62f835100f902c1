import { describe, expect, it } from 'vitest';
import {
  cpuidSignature,
  hypervisorOfSignature,
  parseCpuidCapture,
  renderCpuidCapture,
  type CpuidRegs,
} from '../../src/detect/cpuid.js';

function regsOf(signature: string, eax = 0x40000001): CpuidRegs {
  const b = Buffer.alloc(12);
  b.write(signature, 'latin1');
  return { eax, ebx: b.readUInt32LE(0), ecx: b.readUInt32LE(4), edx: b.readUInt32LE(8) };
}

describe('CPUID signatures', () => {
  it.each([
    ['KVMKVMKVM\0\0\0', 'kvm'],
    ['XenVMMXenVMM', 'xen'],
    ['bhyve bhyve ', 'bhyve'],
    ['TCGTCGTCGTCG', 'qemu-tcg'],
    ['Microsoft Hv', 'hyperv'],
    ['VMwareVMware', 'vmware'],
  ])('reads %j as %s', (sig, want) => {
    expect(cpuidSignature(regsOf(sig))).toBe(sig);
    expect(hypervisorOfSignature(sig)?.hypervisor).toBe(want);
  });

  it('knows no hypervisor for an unknown signature', () => {
    expect(hypervisorOfSignature('NotAHypervsr')).toBeUndefined();
  });

  it('reads the registers of the PVM host as the cpuid device returned them', () => {
    const leaves = parseCpuidCapture('40000000: 40000001 4b4d564b 564b4d56 0000004d\n');
    expect(cpuidSignature(leaves.get(0x40000000)!)).toBe('KVMKVMKVM\0\0\0');
  });

  it('renders and parses captures back to the same leaves', () => {
    for (let i = 0; i < 50; i += 1) {
      const leaves = new Map<number, CpuidRegs>();
      for (const leaf of [0, 1, 0x40000000, 0x40000100]) {
        const r = () => Math.floor(Math.random() * 2 ** 32);
        leaves.set(leaf, { eax: r(), ebx: r(), ecx: r(), edx: r() });
      }
      expect(parseCpuidCapture(renderCpuidCapture(leaves))).toEqual(leaves);
    }
  });
});

/**
 * CPUID, read the only way Node can: through the kernel's cpuid device (`/dev/cpu/0/cpuid`,
 * module `cpuid`), where a 16-byte read at file offset LEAF returns EAX, EBX, ECX, EDX of that
 * leaf as the kernel executes it. Without the device (not root, no module) the `hypervisor` flag
 * of /proc/cpuinfo (leaf 1, ECX bit 31, as the kernel saw it at boot) is all there is. A captured
 * tree holds the leaves as text in the device's place (`LEAF: EAX EBX ECX EDX`, hex).
 *
 * The kernel's view is the one that matters for "which hypervisor runs this kernel": under PVM
 * the guest runs in the user mode of a VM, so a CPUID executed by a user program there is
 * answered by the hypervisor below that VM (seen: "bhyve bhyve "), while the guest kernel's
 * own CPUID is the PVM hypervisor's ("KVMKVMKVM").
 */
import { promises as fs } from 'node:fs';
import type { Evidence, Hypervisor } from './evidence.js';
import { printable } from './evidence.js';
import { readRootText, rootPath, type ProbeRoot } from './probe-root.js';

/** The four registers of one leaf. */
export interface CpuidRegs {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** The device path under the probe root. */
export const CPUID_DEVICE = 'dev/cpu/0/cpuid';

/** Leaves xenkit reads: vendor, features, and the two hypervisor ranges (Xen moves to 0x40000100 when it also offers Hyper-V's). */
export const CPUID_LEAVES = [0x0, 0x1, 0x40000000, 0x40000001, 0x40000100] as const;

/** Hypervisor signatures of leaf 0x40000000 (EBX, ECX, EDX as 12 characters). */
const SIGNATURES: [string, Hypervisor, string][] = [
  ['KVMKVMKVM', 'kvm', 'KVM (Linux kernel virtual machine)'],
  ['Linux KVM Hv', 'kvm', 'KVM offering Hyper-V enlightenments'],
  ['XenVMMXenVMM', 'xen', 'Xen'],
  ['VMwareVMware', 'vmware', 'VMware'],
  ['Microsoft Hv', 'hyperv', 'Microsoft Hyper-V (or a hypervisor imitating it)'],
  ['bhyve bhyve ', 'bhyve', 'FreeBSD bhyve'],
  ['TCGTCGTCGTCG', 'qemu-tcg', 'QEMU without acceleration (TCG)'],
  ['VBoxVBoxVBox', 'virtualbox', 'VirtualBox'],
  [' lrpepyh  vr', 'parallels', 'Parallels'],
  ['ACRNACRNACRN', 'acrn', 'ACRN'],
  ['QNXQVMBSQG', 'qnx', 'QNX hypervisor'],
];

/** The 12-character signature of a hypervisor leaf. */
export function cpuidSignature(regs: CpuidRegs): string {
  const buf = Buffer.alloc(12);
  buf.writeUInt32LE(regs.ebx >>> 0, 0);
  buf.writeUInt32LE(regs.ecx >>> 0, 4);
  buf.writeUInt32LE(regs.edx >>> 0, 8);
  return buf.toString('latin1');
}

/** The hypervisor a signature names, with its long name, or undefined for an unknown one. */
export function hypervisorOfSignature(
  signature: string,
): { hypervisor: Hypervisor; name: string } | undefined {
  const clean = signature.replace(/\0+$/, '');
  const hit = SIGNATURES.find(([sig]) => clean === sig || clean === sig.replace(/\0+$/, ''));
  return hit ? { hypervisor: hit[1], name: hit[2] } : undefined;
}

/** Parses the text form of captured leaves (`40000000: 40000001 4b4d564b 564b4d56 4d`). */
export function parseCpuidCapture(text: string): Map<number, CpuidRegs> {
  const leaves = new Map<number, CpuidRegs>();
  for (const line of text.split('\n')) {
    const m = /^\s*(?:0x)?([0-9a-f]+):\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s*$/i.exec(
      line,
    );
    if (!m) continue;
    const [eax, ebx, ecx, edx] = [m[2], m[3], m[4], m[5]].map((h) => parseInt(h!, 16));
    leaves.set(parseInt(m[1]!, 16), { eax: eax!, ebx: ebx!, ecx: ecx!, edx: edx! });
  }
  return leaves;
}

/** Renders leaves in the capture's text form. */
export function renderCpuidCapture(leaves: Map<number, CpuidRegs>): string {
  const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
  return [...leaves]
    .map(([leaf, r]) => `${hex(leaf)}: ${hex(r.eax)} ${hex(r.ebx)} ${hex(r.ecx)} ${hex(r.edx)}\n`)
    .join('');
}

/** How the leaves were obtained, for the evidence's source. */
export type CpuidMethod = 'device' | 'capture';

/**
 * Reads CPUID_LEAVES through the cpuid device under `root` (or its captured text), or returns
 * undefined with the reason when there is neither.
 */
export async function readCpuidLeaves(
  root: ProbeRoot,
): Promise<{ leaves: Map<number, CpuidRegs>; method: CpuidMethod } | { reason: string }> {
  const file = rootPath(root, CPUID_DEVICE);
  let stat;
  try {
    stat = await fs.stat(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { reason: code === 'ENOENT' ? `${file} is absent (no cpuid module)` : `${file}: ${code}` };
  }
  if (stat.isFile())
    return { leaves: parseCpuidCapture((await readRootText(root, CPUID_DEVICE)) ?? ''), method: 'capture' };
  let handle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    return { reason: `${file} cannot be opened (${(error as NodeJS.ErrnoException).code}; it needs root)` };
  }
  try {
    const leaves = new Map<number, CpuidRegs>();
    for (const leaf of CPUID_LEAVES) {
      const buf = Buffer.alloc(16);
      const { bytesRead } = await handle.read(buf, 0, 16, leaf);
      if (bytesRead !== 16) continue;
      leaves.set(leaf, {
        eax: buf.readUInt32LE(0),
        ebx: buf.readUInt32LE(4),
        ecx: buf.readUInt32LE(8),
        edx: buf.readUInt32LE(12),
      });
    }
    return { leaves, method: 'device' };
  } catch (error) {
    return { reason: `${file} cannot be read (${(error as NodeJS.ErrnoException).code})` };
  } finally {
    await handle.close();
  }
}

/** The `flags` of the first processor in /proc/cpuinfo. */
export function cpuinfoFlags(text: string): Set<string> {
  const line = /^flags\s*:(.*)$/m.exec(text);
  return new Set((line?.[1] ?? '').trim().split(/\s+/).filter(Boolean));
}

/** Evidence from CPUID: the hypervisor bit and the signature(s), or the cpuinfo flag as a fallback. */
export async function cpuidEvidence(root: ProbeRoot): Promise<Evidence[]> {
  const read = await readCpuidLeaves(root);
  if ('reason' in read) {
    const flags = cpuinfoFlags((await readRootText(root, 'proc/cpuinfo')) ?? '');
    const has = flags.has('hypervisor');
    return [
      {
        name: 'cpuid.hypervisor-bit',
        source: `/proc/cpuinfo flags (CPUID not read: ${read.reason})`,
        value: flags.size === 0 ? 'no flags line' : has ? 'hypervisor' : 'no hypervisor flag',
        meaning: has
          ? 'the CPU says a hypervisor runs it (leaf 1, ECX bit 31, as the kernel saw it at boot)'
          : 'the kernel saw no hypervisor bit (bare metal, or a hypervisor that hides it)',
        weight: flags.size === 0 ? 0 : has ? 3 : 2,
        indicates: flags.size === 0 ? { kind: 'none' } : has ? { kind: 'virtual' } : { kind: 'bare-metal' },
      },
    ];
  }
  const how =
    read.method === 'device'
      ? `/${CPUID_DEVICE} (the kernel's own CPUID)`
      : `/${CPUID_DEVICE} (captured leaves)`;
  const out: Evidence[] = [];
  const leaf1 = read.leaves.get(1);
  if (leaf1) {
    const bit = (leaf1.ecx >>> 31) & 1;
    out.push({
      name: 'cpuid.hypervisor-bit',
      source: `${how}, leaf 0x1 ECX bit 31`,
      value: String(bit),
      meaning: bit
        ? 'the CPU says a hypervisor runs it'
        : 'no hypervisor bit: bare metal, or a hypervisor that hides itself',
      weight: bit ? 3 : 2,
      indicates: bit ? { kind: 'virtual' } : { kind: 'bare-metal' },
    });
  }
  for (const base of [0x40000000, 0x40000100]) {
    const regs = read.leaves.get(base);
    if (!regs) continue;
    // Past the range a CPU answers with its highest basic leaf: only a max leaf in range is real.
    const inRange = regs.eax >= base && regs.eax < base + 0x100;
    if (!inRange) {
      if (base === 0x40000000 && leaf1 && (leaf1.ecx >>> 31) & 1) {
        out.push({
          name: 'cpuid.signature',
          source: `${how}, leaf 0x40000000`,
          value: 'none',
          meaning:
            'the hypervisor bit is set but no hypervisor leaves answer (QEMU without acceleration does this)',
          weight: 1,
          indicates: { kind: 'virtual', hypervisor: 'qemu-tcg' },
        });
      }
      continue;
    }
    const sig = cpuidSignature(regs);
    const known = hypervisorOfSignature(sig);
    const shown = JSON.stringify(printable(sig.replace(/\0/g, '')) || sig);
    out.push({
      name: base === 0x40000000 ? 'cpuid.signature' : 'cpuid.signature-0x100',
      source: `${how}, leaf 0x${base.toString(16)} EBX ECX EDX (max leaf 0x${regs.eax.toString(16)})`,
      value: shown,
      meaning: known
        ? `the hypervisor under this kernel signs as ${known.name}`
        : `an unknown hypervisor signature ${shown}`,
      weight: known ? 5 : 3,
      indicates: { kind: 'virtual', ...(known ? { hypervisor: known.hypervisor } : {}) },
    });
  }
  return out;
}

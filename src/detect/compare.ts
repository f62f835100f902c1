/**
 * What systemd-detect-virt and virt-what say, mapped to xenkit's names, and where and why xenkit
 * disagrees, explained from the evidence both looked at.
 */
import type { Container, Hypervisor, Verdict, WeighedEvidence } from './evidence.js';
import { containerOfName } from './container.js';
import { supportsHypervisor } from './weigh.js';

/** One other detector's answer next to xenkit's. */
export interface OtherOpinion {
  tool: 'systemd-detect-virt' | 'virt-what';
  /** What it printed (one line per fact). */
  said: string;
  agrees: boolean;
  /** Where and why xenkit disagrees (empty when it agrees). */
  why: string[];
}

const SDV_VM: Record<string, Hypervisor> = {
  kvm: 'kvm',
  qemu: 'qemu',
  bochs: 'qemu',
  xen: 'xen',
  vmware: 'vmware',
  microsoft: 'hyperv',
  oracle: 'virtualbox',
  bhyve: 'bhyve',
  amazon: 'amazon',
  google: 'google',
  parallels: 'parallels',
  acrn: 'acrn',
  qnx: 'qnx',
};

const VIRT_WHAT_VM: Record<string, Hypervisor> = {
  xen: 'xen',
  'xen-dom0': 'xen',
  'xen-domU': 'xen',
  'xen-hvm': 'xen',
  kvm: 'kvm',
  qemu: 'qemu',
  bhyve: 'bhyve',
  hyperv: 'hyperv',
  vmware: 'vmware',
  virtualbox: 'virtualbox',
  parallels: 'parallels',
  aws: 'amazon',
  google_cloud: 'google',
};

const VIRT_WHAT_CONTAINERS = new Set(['docker', 'podman', 'lxc', 'systemd-nspawn', 'openvz', 'wsl']);

function isSameHypervisor(a: Hypervisor, b: Hypervisor): boolean {
  return supportsHypervisor(a, b) || supportsHypervisor(b, a);
}

function explainHypervisor(
  theirs: Hypervisor | undefined,
  verdict: Verdict,
  evidence: readonly WeighedEvidence[],
): string | undefined {
  if (theirs === undefined && !verdict.isVirtual) return undefined;
  if (
    theirs !== undefined &&
    verdict.hypervisor !== undefined &&
    isSameHypervisor(theirs, verdict.hypervisor)
  )
    return undefined;
  const support = evidence
    .filter((e) => e.believed && e.weight > 0 && e.indicates.kind === 'virtual')
    .sort((a, b) => b.weight - a.weight)
    .slice(0, 4)
    .map((e) => `${e.name} = ${e.value}`)
    .join('; ');
  if (theirs === undefined) {
    const dom0 =
      verdict.xenRole === 'dom0'
        ? ' (systemd-detect-virt counts a Xen dom0 as the host; it runs under the Xen hypervisor all the same)'
        : '';
    return `it finds no hypervisor, xenkit finds ${verdict.hypervisor ?? 'one'}${dom0}: ${support}`;
  }
  if (!verdict.isVirtual) return `it says ${theirs}, but xenkit finds too little for a hypervisor`;
  const signature = evidence.find((e) => e.name === 'cpuid.signature' && e.source.startsWith('/dev/cpu'));
  const cpuidNote = signature
    ? `; it runs the CPUID instruction in user mode, while the kernel's own CPUID (/dev/cpu/0/cpuid) reads ${signature.value}`
    : '';
  const pvm =
    verdict.hypervisor === 'pvm'
      ? ': under PVM the guest runs in the user mode of another VM, so a user-mode CPUID is answered by the hypervisor below that VM, not by the one this kernel runs on'
      : '';
  return `it says ${theirs}, xenkit says ${verdict.hypervisor ?? 'unknown'}${cpuidNote}${pvm}. xenkit's evidence: ${support}`;
}

function explainContainer(
  theirs: Container | undefined,
  verdict: Verdict,
  evidence: readonly WeighedEvidence[],
): string | undefined {
  if (
    (theirs === undefined) === !verdict.isContainer &&
    (theirs === undefined || theirs === verdict.container)
  )
    return undefined;
  if (theirs !== undefined && !verdict.isContainer) {
    const hints = evidence
      .filter((e) => e.indicates.kind === 'container' && e.weight > 0)
      .map((e) => `${e.name} (${e.value})`);
    const against = evidence
      .filter((e) => e.indicates.kind === 'no-container' && e.weight > 0)
      .map((e) => `${e.meaning}`);
    return `it says ${theirs} from hints xenkit does not believe (${hints.join(', ')}): ${against.join('; ')}`;
  }
  if (theirs === undefined) return `it finds no container, xenkit finds ${verdict.container ?? 'one'}`;
  return `it says ${theirs}, xenkit says ${verdict.container ?? 'no container'}`;
}

/** Compares systemd-detect-virt's two answers (`--vm`, `--container`) with the verdict. */
export function compareSystemdDetectVirt(
  answer: { vm: string; container: string },
  verdict: Verdict,
  evidence: readonly WeighedEvidence[],
): OtherOpinion {
  const vm = answer.vm === 'none' ? undefined : (SDV_VM[answer.vm] ?? ('unknown' as Hypervisor));
  const container = answer.container === 'none' ? undefined : containerOfName(answer.container);
  const why = [
    explainHypervisor(vm, verdict, evidence),
    explainContainer(container, verdict, evidence),
  ].filter((w): w is string => w !== undefined);
  return {
    tool: 'systemd-detect-virt',
    said: `vm: ${answer.vm}, container: ${answer.container}`,
    agrees: why.length === 0,
    why,
  };
}

/** Compares virt-what's facts with the verdict. */
export function compareVirtWhat(
  facts: readonly string[],
  verdict: Verdict,
  evidence: readonly WeighedEvidence[],
): OtherOpinion {
  const vms = facts.map((f) => VIRT_WHAT_VM[f]).filter((h): h is Hypervisor => h !== undefined);
  const containers = facts.filter((f) => VIRT_WHAT_CONTAINERS.has(f)).map(containerOfName);
  const why: string[] = [];
  const vm = vms[0];
  const hv = explainHypervisor(vm, verdict, evidence);
  if (hv) why.push(hv);
  const ct = explainContainer(containers[0], verdict, evidence);
  if (ct) why.push(ct);
  if (verdict.hypervisor === 'xen' && verdict.xenRole) {
    const role = facts.includes('xen-dom0') ? 'dom0' : facts.includes('xen-domU') ? 'domU' : undefined;
    if (role && role !== verdict.xenRole) why.push(`it says ${role}, xenkit says ${verdict.xenRole}`);
  }
  return {
    tool: 'virt-what',
    said: facts.length > 0 ? facts.join(', ') : '(nothing: bare metal)',
    agrees: why.length === 0,
    why,
  };
}

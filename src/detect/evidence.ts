/**
 * The vocabulary of `xenkit detect`: what a piece of evidence is, what it points at, and the
 * verdict weighed from all of them. Pure types and names, no I/O.
 */

/** Hypervisors xenkit names (`qemu` alone: a QEMU machine whose accelerator is not known). */
export type Hypervisor =
  | 'xen'
  | 'kvm'
  | 'pvm'
  | 'qemu'
  | 'qemu-tcg'
  | 'bhyve'
  | 'vmware'
  | 'hyperv'
  | 'virtualbox'
  | 'parallels'
  | 'acrn'
  | 'qnx'
  | 'firecracker'
  | 'amazon'
  | 'google';

/** Container managers xenkit names. */
export type Container = 'docker' | 'podman' | 'lxc' | 'systemd-nspawn' | 'openvz' | 'wsl' | 'container';

export type XenRole = 'dom0' | 'domU';
export type XenMode = 'pv' | 'pvh' | 'hvm';

/** What one piece of evidence says, if anything. */
export type Indication =
  | { kind: 'virtual'; hypervisor?: Hypervisor }
  | { kind: 'bare-metal' }
  | { kind: 'xen-role'; role: XenRole }
  | { kind: 'xen-mode'; mode: XenMode }
  | { kind: 'container'; container?: Container }
  | { kind: 'no-container' }
  | { kind: 'none' };

/** How much an item counts: 0 informational, 1 weak, 2 medium, 3 strong, 5 decisive. */
export type Weight = 0 | 1 | 2 | 3 | 5;

/** One thing seen on the machine and what it means. */
export interface Evidence {
  /** Short stable name (`cpuid.signature`, `dmi.sys_vendor`, `container.dockerenv`). */
  name: string;
  /** Where it was read (a path, a CPUID leaf and how it was read). */
  source: string;
  /** What was seen there (`absent` when the file is not there). */
  value: string;
  /** What that means, in a sentence. */
  meaning: string;
  weight: Weight;
  indicates: Indication;
}

/** An item after weighing: whether the verdict follows it, and why not when it does not. */
export interface WeighedEvidence extends Evidence {
  believed: boolean;
  /** Why the verdict went against it (only when `believed` is false and it pointed somewhere). */
  why?: string;
}

/** The answer of `xenkit detect`. */
export interface Verdict {
  /** Runs under a hypervisor (a virtual machine). */
  isVirtual: boolean;
  hypervisor: Hypervisor | undefined;
  /** Xen only: the domain's role and mode, when the evidence tells. */
  xenRole: XenRole | undefined;
  xenMode: XenMode | undefined;
  /** Runs inside a container (separately from the machine being virtual). */
  isContainer: boolean;
  container: Container | undefined;
  /** The summed weights for and against, for the curious. */
  scores: { virtual: number; bareMetal: number; container: number; noContainer: number };
  /** One line: `virtual: kvm`, `virtual: xen domU (pvh)`, `not virtual`, plus the container. */
  summary: string;
}

/** A string of printable text for a value read from a file (trimmed; NULs and controls shown as spaces). */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

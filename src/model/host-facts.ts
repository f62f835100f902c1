/**
 * HostFacts: what the host is and has, read once (tools/host-probe.ts) and passed to config
 * defaults and the planner.
 */

export interface HostFacts {
  /** Debian architecture name (`amd64`, `arm64`). */
  arch: string;
  /** `ID` of /etc/os-release (`debian`, `ubuntu`), if readable. */
  osId: string | undefined;
  /** `VERSION_CODENAME` of /etc/os-release (`bookworm`), if any. */
  codename: string | undefined;
  /** Programs found on PATH, by name. */
  commands: Record<string, boolean>;
  /** /dev/kvm exists (it may still be unusable: the QEMU driver probes further). */
  hasKvm: boolean;
  /** This is a Xen dom0 (/proc/xen/capabilities says control_d). */
  isXenDom0: boolean;
}

/** Programs whose presence changes defaults or plans. */
export const PROBED_COMMANDS = [
  'mmdebstrap',
  'debootstrap',
  'xl',
  'qemu-system-x86_64',
  'qemu-img',
  'lvm',
] as const;

/** Parses /etc/os-release (`KEY=value`, values optionally quoted) into a record. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const [, key = '', raw = ''] = match;
    out[key] = raw.replace(/^(["'])(.*)\1$/, '$2').replace(/\\(["$`\\])/g, '$1');
  }
  return out;
}

/** Debian's name for node's `process.arch`, for hosts without dpkg. */
export function debianArchOf(nodeArch: string): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    ia32: 'i386',
    arm: 'armhf',
    ppc64: 'ppc64el',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[nodeArch] ?? nodeArch;
}

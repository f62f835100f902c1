/** HostFacts: what the host is and has, read once and passed to config defaults and the planner. */
import { access, constants, readFile } from 'node:fs/promises';
import path from 'node:path';
import { runCommand } from '../tools/exec.js';

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

async function isExecutableOnPath(name: string, pathEnv: string): Promise<boolean> {
  for (const dir of pathEnv.split(':')) {
    if (!dir) continue;
    try {
      await access(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Reads the host's facts: os-release, architecture (dpkg, else node), tools on PATH, KVM, Xen. */
export async function detectHostFacts(env: NodeJS.ProcessEnv = process.env): Promise<HostFacts> {
  const osRelease = parseOsRelease((await readText('/etc/os-release')) ?? '');
  const pathEnv = env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  const commands: Record<string, boolean> = {};
  for (const name of PROBED_COMMANDS) commands[name] = await isExecutableOnPath(name, pathEnv);
  let arch = debianArchOf(process.arch);
  if (await isExecutableOnPath('dpkg', pathEnv)) {
    const result = await runCommand(['dpkg', '--print-architecture'], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
    if (result.exitCode === 0 && result.stdout.trim()) arch = result.stdout.trim();
  }
  const capabilities = (await readText('/proc/xen/capabilities')) ?? '';
  let hasKvm: boolean;
  try {
    await access('/dev/kvm', constants.F_OK);
    hasKvm = true;
  } catch {
    hasKvm = false;
  }
  return {
    arch,
    osId: osRelease.ID,
    codename: osRelease.VERSION_CODENAME || undefined,
    commands,
    hasKvm,
    isXenDom0: capabilities.includes('control_d'),
  };
}

/** Reads the host's facts (os-release, architecture, tools on PATH, KVM, Xen) into HostFacts. */
import { access, constants, readFile } from 'node:fs/promises';
import { debianArchOf, parseOsRelease, PROBED_COMMANDS, type HostFacts } from '../model/host-facts.js';
import { hasCommand, runCommand } from './exec.js';

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
  for (const name of PROBED_COMMANDS) commands[name] = await hasCommand(name, pathEnv);
  let arch = debianArchOf(process.arch);
  if (await hasCommand('dpkg', pathEnv)) {
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

/**
 * The other detectors, asked for comparison (`systemd-detect-virt`, `virt-what`), and the
 * `cpuid` module that makes /dev/cpu/0/cpuid appear. Each returns undefined when not installed.
 */
import { hasCommand, runCommand } from './exec.js';

/** What systemd-detect-virt says, separately for a VM and a container (`none` for neither). */
export interface SystemdDetectVirtAnswer {
  vm: string;
  container: string;
}

/** Runs `systemd-detect-virt --vm` and `--container`; undefined when it is not installed. */
export async function runSystemdDetectVirt(): Promise<SystemdDetectVirtAnswer | undefined> {
  if (!(await hasCommand('systemd-detect-virt'))) return undefined;
  const ask = async (flag: string): Promise<string> => {
    const r = await runCommand(['systemd-detect-virt', flag], { allowFailure: true, timeoutMs: 10_000 });
    return r.stdout.trim() || 'none';
  };
  return { vm: await ask('--vm'), container: await ask('--container') };
}

/** Runs `virt-what` (root only); its facts, one per line (empty: bare metal); undefined when not installed. */
export async function runVirtWhat(): Promise<{ facts: string[]; exitCode: number } | undefined> {
  if (!(await hasCommand('virt-what', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`))) return undefined;
  const r = await runCommand(['virt-what'], {
    allowFailure: true,
    timeoutMs: 20_000,
    env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
  });
  return {
    facts: r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
    exitCode: r.exitCode,
  };
}

/** Loads a kernel module with modprobe; whether it succeeded. */
export async function loadKernelModule(name: string): Promise<boolean> {
  const r = await runCommand(['modprobe', name], { allowFailure: true, timeoutMs: 20_000 });
  return r.exitCode === 0;
}

/** Unloads a kernel module with `modprobe -r`; whether it succeeded. */
export async function unloadKernelModule(name: string): Promise<boolean> {
  const r = await runCommand(['modprobe', '-r', name], { allowFailure: true, timeoutMs: 20_000 });
  return r.exitCode === 0;
}

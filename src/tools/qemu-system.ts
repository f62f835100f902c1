/** qemu-system-x86_64: start a daemonized guest, ask whether KVM initialises at all, and which CPUID flags it knows. */
import { runCommand, type ExecOptions } from './exec.js';
import { memoizedAnswer } from './program-memo.js';

/** The emulator for x86_64 guests. */
export const QEMU_SYSTEM = 'qemu-system-x86_64';

/**
 * Runs a `-daemonize` argv: QEMU returns once the guest is set up (or exits non-zero naming the
 * problem), leaving the daemon behind with its pidfile written.
 */
export async function launchQemu(argv: readonly string[], options: ExecOptions = {}): Promise<void> {
  await runCommand(argv, { timeoutMs: 60_000, ...options });
}

/**
 * The argv that starts QEMU stopped, with no devices and no display, reading HMP commands on stdin
 * (`quit` ends it): with KVM and no machine, whether KVM initialises; with a machine and a `-cpu`
 * in `extra`, whether QEMU takes that CPU model.
 */
export function monitorProbeArgv(
  accel: 'kvm' | 'tcg',
  { binary = QEMU_SYSTEM, machine = 'none', extra = [] as readonly string[] } = {},
): string[] {
  return [
    binary,
    '-accel',
    accel,
    '-machine',
    machine,
    ...extra,
    '-nodefaults',
    '-display',
    'none',
    '-S',
    '-monitor',
    'stdio',
  ];
}

/**
 * Whether QEMU can open /dev/kvm and create a VM. Necessary, not sufficient: an emulated
 * /dev/kvm passes this and still hangs a real guest, so the CPU flags are checked first.
 */
export async function probeQemuKvm(options: ExecOptions = {}): Promise<{ ok: boolean; message: string }> {
  const result = await runCommand(monitorProbeArgv('kvm'), {
    timeoutMs: 10_000,
    ...options,
    input: 'quit\n',
    allowFailure: true,
  });
  const complaint = result.stderr.trim().split('\n').at(-1) ?? '';
  return result.exitCode === 0
    ? { ok: true, message: 'qemu-system-x86_64 -accel kvm starts' }
    : { ok: false, message: complaint || `qemu-system-x86_64 -accel kvm exited with ${result.exitCode}` };
}

/** The CPUID flag names listed after "Recognized CPUID flags:" in `qemu-system-x86_64 -cpu help`. */
export function parseCpuFlagNames(helpText: string): Set<string> {
  const at = helpText.indexOf('Recognized CPUID flags:');
  if (at < 0) return new Set();
  const names = new Set<string>();
  for (const line of helpText.slice(at).split('\n').slice(1)) {
    if (!/^\s/.test(line)) break;
    for (const name of line.trim().split(/\s+/)) if (/^[a-z0-9][a-z0-9_.-]*$/.test(name)) names.add(name);
  }
  return names;
}

/**
 * The CPUID flags `binary` knows, from `-cpu help`, remembered in `memoFile` per binary file
 * (60 ms of every guest start otherwise); undefined when it does not answer with a list.
 */
export async function readQemuCpuFlags(
  binary: string,
  memoFile: string,
  options: ExecOptions = {},
): Promise<ReadonlySet<string> | undefined> {
  const answer = await memoizedAnswer(memoFile, binary, 'cpu-flags', async () => {
    const result = await runCommand([binary, '-cpu', 'help'], {
      timeoutMs: 10_000,
      ...options,
      allowFailure: true,
    });
    const names = parseCpuFlagNames(result.stdout);
    return result.exitCode === 0 && names.size > 0 ? [...names].sort().join(' ') : undefined;
  });
  return answer === undefined ? undefined : new Set(answer.split(' '));
}

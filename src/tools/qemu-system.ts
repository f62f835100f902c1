/** qemu-system-x86_64: start a daemonized guest, and ask whether KVM initialises at all. */
import { runCommand, type ExecOptions } from './exec.js';

/** The emulator for x86_64 guests. */
export const QEMU_SYSTEM = 'qemu-system-x86_64';

/**
 * Runs a `-daemonize` argv: QEMU returns once the guest is set up (or exits non-zero naming the
 * problem), leaving the daemon behind with its pidfile written.
 */
export async function launchQemu(argv: readonly string[], options: ExecOptions = {}): Promise<void> {
  await runCommand(argv, { timeoutMs: 60_000, ...options });
}

/** The argv that starts QEMU with KVM and no machine, and quits from the HMP prompt on stdin. */
export function kvmProbeArgv(binary = QEMU_SYSTEM): string[] {
  return [
    binary,
    '-accel',
    'kvm',
    '-machine',
    'none',
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
  const result = await runCommand(kvmProbeArgv(), {
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

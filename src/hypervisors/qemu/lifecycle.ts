/** Ending QEMU guests: waiting for a power-off, and destroy (quit, then SIGKILL). */
import { setTimeout as sleep } from 'node:timers/promises';
import { runtimeError } from '../../errors.js';
import { connectQmp, withQmp } from './qmp-client.js';
import { isQemuAlive, type DomainRecord } from './registry.js';
import type { RuntimePaths } from './runtime-paths.js';

/** Waits until `pid` is gone; true when it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isQemuAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** How often the power button is pressed again while a shutdown is awaited. */
export const POWER_BUTTON_REPEAT_MS = 10_000;

/**
 * Presses the guest's ACPI power button (QMP `system_powerdown`). A press the guest is not yet
 * listening for (still booting, no logind or acpid running yet) is simply lost, as on real
 * hardware.
 */
export async function pressPowerButton(record: DomainRecord, rt: RuntimePaths): Promise<void> {
  await withQmp(rt.qmpSocket, { guest: record.name }, (q) => q.execute('system_powerdown'));
}

/**
 * Waits until the guest has powered off: QEMU has exited, or (on_poweroff=preserve) sits in the
 * shutdown state. While waiting, the power button is pressed again every `repeatMs`, so that a
 * press lost during the guest's boot does not leave it running; a guest already on its way down
 * ignores the repeats. Throws a clear timeout error suggesting destroy.
 */
export async function waitForPoweroff(
  record: DomainRecord,
  rt: RuntimePaths,
  timeoutMs: number,
  repeatMs = POWER_BUTTON_REPEAT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const preserve = record.config.onPoweroff === 'preserve';
  let nextPress = Date.now() + repeatMs;
  while (isQemuAlive(record.pid)) {
    const status = await withQmp(rt.qmpSocket, { guest: record.name, timeoutMs: 2000 }, (q) =>
      q.execute<{ status: string }>('query-status'),
    ).catch(() => undefined);
    if (preserve && status?.status === 'shutdown') return;
    if (Date.now() >= deadline) {
      throw runtimeError(
        'E_SHUTDOWN_TIMEOUT',
        `guest "${record.name}" did not power off within ${Math.round(timeoutMs / 1000)} s`,
        `the guest may ignore the ACPI power button (no acpid/systemd-logind); end it with: xm destroy ${record.name}`,
      );
    }
    if (Date.now() >= nextPress && status?.status === 'running') {
      await pressPowerButton(record, rt).catch(() => undefined);
      nextPress = Date.now() + repeatMs;
    }
    await sleep(250);
  }
}

/** Ends QEMU: `quit` over QMP, then SIGKILL when it is still there after `graceMs`. */
export async function killQemu(record: DomainRecord, rt: RuntimePaths, graceMs = 3000): Promise<void> {
  if (!isQemuAlive(record.pid)) return;
  try {
    const qmp = await connectQmp(rt.qmpSocket, { guest: record.name, timeoutMs: 2000 });
    try {
      await qmp.execute('quit', undefined, { expectClose: true, timeoutMs: 2000 });
    } finally {
      qmp.close();
    }
  } catch {
    // QMP busy or broken: the signal below still ends it.
  }
  if (await waitForExit(record.pid, graceMs)) return;
  try {
    process.kill(record.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  if (!(await waitForExit(record.pid, 5000))) {
    throw runtimeError(
      'E_DESTROY',
      `guest "${record.name}": QEMU (pid ${record.pid}) survived SIGKILL`,
      'check for a stuck D-state process: ps -o stat,wchan -p PID',
    );
  }
}

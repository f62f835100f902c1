/**
 * The per-guest QMP event log. QEMU's second monitor is a `-chardev pipe`: it reads commands
 * from the FIFO `events.in` and writes answers and events to the plain file `events.out`. Once
 * that monitor has left capability negotiation, QEMU appends every event (RESET, SHUTDOWN,
 * STOP, GUEST_PANICKED, ...) with a timestamp, for the guest's whole life, with no process of
 * ours attached. QEMU opens `events.in` read-write, so it never sees end-of-file on it.
 */
import { constants, openSync, closeSync, writeSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { runtimeError } from '../../errors.js';
import { runCommand } from '../../tools/exec.js';
import { toEvent, type QmpEvent } from './qmp-client.js';
import type { RuntimePaths } from './runtime-paths.js';

/** Creates the FIFO and the empty log file QEMU's pipe monitor opens at start-up. */
export async function prepareEventLog(rt: RuntimePaths): Promise<void> {
  await runCommand(['mkfifo', '-m', '0600', rt.eventsIn]);
  writeFileSync(rt.eventsOut, '', { mode: 0o600 });
}

/**
 * Takes the pipe monitor out of capability negotiation (after QEMU has started, so QEMU holds
 * the FIFO open), then waits for its answer in the log.
 */
export async function activateEventLog(rt: RuntimePaths, guest: string, timeoutMs = 5000): Promise<void> {
  const fd = openSync(rt.eventsIn, constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, '{"execute": "qmp_capabilities"}\n');
  } finally {
    closeSync(fd);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await readFile(rt.eventsOut, 'utf8')).includes('"return"')) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw runtimeError(
    'E_QEMU_EVENTS',
    `guest "${guest}": QEMU did not answer on its event monitor within ${timeoutMs} ms`,
    `see ${rt.eventsOut}`,
  );
}

/** Parses the event log text: events only (the greeting and command answers are skipped). */
export function parseEventLog(text: string): QmpEvent[] {
  const events: QmpEvent[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const message = JSON.parse(trimmed) as Record<string, unknown>;
      if (typeof message.event === 'string') events.push(toEvent(message));
    } catch {
      // The last line may be half-written while QEMU appends; it is read next time.
    }
  }
  return events;
}

/** Reads the events of a guest's log (empty when there is no log). */
export async function readEventLog(rt: RuntimePaths): Promise<QmpEvent[]> {
  try {
    return parseEventLog(await readFile(rt.eventsOut, 'utf8'));
  } catch {
    return [];
  }
}

/**
 * The reboots the guest did itself, oldest first: one entry per burst of guest RESET events.
 * A single reboot makes QEMU reset several times within a fraction of a second (Linux tries the
 * ACPI reset register, then the keyboard controller, ... and each write is a reset request: 7
 * RESET events for one `reboot -f` were measured under TCG), so resets closer than
 * `burstSec` to the previous one belong to the same reboot. No guest gets through firmware
 * and a kernel boot to its next reboot that fast.
 */
export function guestReboots(events: readonly QmpEvent[], burstSec = 1): QmpEvent[] {
  const reboots: QmpEvent[] = [];
  let previous: number | undefined;
  for (const e of events) {
    if (e.event !== 'RESET' || e.data.guest !== true) continue;
    if (previous === undefined || e.timestamp - previous > burstSec) reboots.push(e);
    previous = e.timestamp;
  }
  return reboots;
}

/**
 * vcpu-set for QEMU: adds vCPUs with device_add in the free slots query-hotpluggable-cpus
 * offers (QEMU was started with `-smp N,maxcpus=M`), removes them with device_del by QOM path,
 * newest first, never the boot CPU. Removal needs the guest's cooperation (ACPI eject), as
 * under Xen; a Linux guest onlines added CPUs only when told to (udev rule or sysfs write).
 */
import { usageError } from '../../errors.js';
import type { QmpClient } from './qmp-client.js';

/** One entry of query-hotpluggable-cpus. */
export interface HotpluggableCpu {
  type: string;
  props: Record<string, number>;
  'qom-path'?: string;
}

/** The QMP commands that bring a guest from its plugged CPUs to `count` vCPUs. */
export function planVcpuChange(
  guest: string,
  slots: readonly HotpluggableCpu[],
  count: number,
): { execute: 'device_add' | 'device_del'; arguments: Record<string, unknown> }[] {
  if (!Number.isInteger(count) || count < 1 || count > slots.length) {
    throw usageError(
      'E_VCPUS',
      `guest "${guest}": ${count} vCPUs is outside 1..${slots.length}`,
      `maxvcpus is ${slots.length}`,
    );
  }
  const order = (a: HotpluggableCpu, b: HotpluggableCpu): number => slotKey(a).localeCompare(slotKey(b));
  const plugged = slots.filter((s) => s['qom-path'] !== undefined).sort(order);
  const free = slots.filter((s) => s['qom-path'] === undefined).sort(order);
  if (count > plugged.length) {
    return free.slice(0, count - plugged.length).map((slot) => ({
      execute: 'device_add',
      arguments: { driver: slot.type, id: `vcpu-${slotKey(slot)}`, ...slot.props },
    }));
  }
  // The first slot holds the boot CPU, which cannot go.
  return plugged
    .slice(1)
    .reverse()
    .slice(0, plugged.length - count)
    .map((slot) => ({ execute: 'device_del', arguments: { id: slot['qom-path'] } }));
}

/**
 * Applies vcpu-set over an open QMP session; returns whether vCPUs were removed.
 * QEMU 7.2 under TCG aborts ("double free or corruption") when the guest resets after a vCPU
 * was unplugged, so with `tcg` a removal also switches QEMU's reboot action to shutdown: a
 * later reboot from inside the guest then ends the domain cleanly instead of crashing QEMU
 * (`xm reboot`, which starts a fresh QEMU, is unaffected).
 */
export async function setGuestVcpus(
  qmp: QmpClient,
  guest: string,
  count: number,
  accel: 'kvm' | 'tcg',
  singleThreaded = false,
): Promise<boolean> {
  const slots = await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus');
  const steps = planVcpuChange(guest, slots, count);
  // QEMU 7.2's single-threaded TCG (see argv.ts' tcgThreading) cannot take a vCPU out: the thread
  // every vCPU runs on is the one the unplug waits to end, and the guest stops with it.
  if (singleThreaded && steps.some((s) => s.execute === 'device_del')) {
    throw usageError(
      'E_VCPUS',
      `guest "${guest}": vCPUs cannot be removed while it runs under single-threaded TCG (QEMU stops the guest)`,
      `set vcpus = ${count} in its cfg and restart it (xm shutdown -w ${guest}; xm create ${guest})`,
    );
  }
  for (const step of steps) await qmp.execute(step.execute, step.arguments);
  const removed = steps.some((s) => s.execute === 'device_del');
  if (removed && accel === 'tcg') await qmp.execute('set-action', { reboot: 'shutdown' });
  return removed;
}

/** A sortable key of a slot's topology ids (`s000-c001-t000`). */
function slotKey(slot: HotpluggableCpu): string {
  const id = (key: string): string => String(slot.props[key] ?? 0).padStart(3, '0');
  return `s${id('socket-id')}-d${id('die-id')}-c${id('core-id')}-t${id('thread-id')}`;
}

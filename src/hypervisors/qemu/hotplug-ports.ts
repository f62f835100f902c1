/**
 * Where hot-plugged disks and NICs go, and which QEMU ids a guest's devices have.
 *
 * A q35 machine cannot hot-plug a device into its root complex (pcie.0), so every guest gets a
 * few empty PCIe root ports (`hp0`..), one per device attached while it runs; Linux sees the
 * device arrive and leave through ACPI PCI hotplug (QEMU 7.2's default for root ports on q35).
 * Devices present at boot sit on pcie.0 and cannot be unplugged. `io-reserve=0`: virtio needs no
 * I/O ports, and reserving 4 KiB of the 64 KiB I/O space per empty port is what limits their number.
 *
 * The device table of a running guest, kept in its registry record: entry i of `disks` (`nics`)
 * is entry i of its live config's `disks` (`vifs`), with its QEMU id (`diskN`: nodes `diskN`
 * and `diskN-file`, device `diskN-dev`; `netN`: netdev `netN`, device `netN-dev`) and, for a
 * hot-plugged one, its port. Without a table the guest has exactly the devices it booted with.
 */
import { usageError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';

/** Empty root ports each guest gets. */
export const HOTPLUG_PORTS = 4;

/** One disk or NIC of a running guest. */
export interface PluggedDevice {
  /** QEMU's base id (`disk2`, `net1`). */
  id: string;
  /** The root port of a hot-plugged device; none for a device present at boot. */
  port?: string;
}

/** A NIC with xl's device ID. */
export interface PluggedNic extends PluggedDevice {
  devid: number;
}

export interface DeviceTable {
  disks: PluggedDevice[];
  nics: PluggedNic[];
}

/** The `-device` arguments of the empty root ports (after the boot devices). */
export function hotplugPortArgs(): string[] {
  return Array.from({ length: HOTPLUG_PORTS }, (_, i) => [
    '-device',
    `pcie-root-port,id=hp${i},bus=pcie.0,chassis=${i + 1},io-reserve=0`,
  ]).flat();
}

/** The table of a guest's devices (`devices` saved after a hotplug, else derived from its boot config). */
export function deviceTable(config: DomainConfig, devices: DeviceTable | undefined): DeviceTable {
  return (
    devices ?? {
      disks: config.disks.map((_, i) => ({ id: `disk${i}` })),
      nics: config.vifs.map((_, i) => ({ id: `net${i}`, devid: i })),
    }
  );
}

/** A root port no device uses, or the error saying they are all taken. */
export function freePort(guest: string, table: DeviceTable): string {
  const used = new Set([...table.disks, ...table.nics].map((d) => d.port));
  for (let i = 0; i < HOTPLUG_PORTS; i++) if (!used.has(`hp${i}`)) return `hp${i}`;
  throw usageError(
    'E_HOTPLUG',
    `guest "${guest}" has no free hotplug slot (${HOTPLUG_PORTS} devices attached while it runs)`,
    'detach one first, or add the device to its cfg and restart it',
  );
}

/** The next unused id with `prefix` (`disk`, `net`). */
export function nextId(prefix: string, devices: readonly PluggedDevice[]): string {
  const numbers = devices.map((d) => Number(d.id.slice(prefix.length))).filter(Number.isInteger);
  return `${prefix}${Math.max(-1, ...numbers) + 1}`;
}

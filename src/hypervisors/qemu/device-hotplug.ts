/**
 * block-attach/-detach and network-attach/-detach for QEMU over QMP. A disk is two block nodes
 * (blockdev-add of the file, then of its format) and a virtio-blk-pci device on a free root port
 * (hotplug-ports.ts); a NIC is a netdev (netdev_add) and a virtio-net-pci device (or the cfg's
 * model). Removal asks the guest to let the device go (device_del, an ACPI eject), waits for
 * QEMU's DEVICE_DELETED, then removes the nodes or netdev. A step that fails undoes the steps
 * before it. Nothing here touches the guest's cfg: like xl, a hot-plugged device lasts until the
 * guest stops (an `xm reboot` keeps it, as libxl's stored config does; `xm save` refuses it).
 */
import { existsSync } from 'node:fs';
import { usageError, XenkitError } from '../../errors.js';
import type { DiskConfig, DomainConfig, VifConfig } from '../../model/domain-config.js';
import { parseMac, randomXenMac } from '../../model/mac.js';
import type { BlockDevice, NetworkDevice } from '../driver.js';
import { blockFormat, nicModel } from './argv.js';
import { freePort, nextId, type DeviceTable } from './hotplug-ports.js';
import type { QmpClient } from './qmp-client.js';

/** How long the guest has to release an unplugged device (TCG guests are slow to run ACPI). */
export const UNPLUG_TIMEOUT_MS = 60_000;

/** A guest's live config and device table, as a hotplug leaves them. */
export interface Devices {
  config: DomainConfig;
  table: DeviceTable;
}

/** Runs the undo steps of a failed attach, newest first, keeping the original error. */
async function unwind(undo: (() => Promise<unknown>)[]): Promise<void> {
  for (const step of undo.reverse()) await step().catch(() => undefined);
}

/** Hot-plugs `disk` into the running guest; returns its new config and table. */
export async function attachDisk(
  qmp: QmpClient,
  guest: string,
  devices: Devices,
  disk: DiskConfig,
): Promise<Devices> {
  const { config, table } = devices;
  if (config.disks.some((d) => d.vdev === disk.vdev)) {
    throw usageError(
      'E_HOTPLUG',
      `guest "${guest}" has a disk ${disk.vdev} already`,
      `choose another vdev; see them with: xm block-list ${guest}`,
    );
  }
  if (disk.isCdrom) {
    throw usageError(
      'E_HOTPLUG',
      `guest "${guest}": a CD-ROM cannot be hot-plugged under QEMU`,
      'attach the image as a read-only disk (access=ro), or add it to the cfg',
    );
  }
  if (!existsSync(disk.target)) {
    throw usageError(
      'E_HOTPLUG',
      `disk image ${disk.target} does not exist`,
      'give an existing file or block device',
    );
  }
  const port = freePort(guest, table);
  const id = nextId('disk', table.disks);
  const readOnly = disk.access === 'ro';
  const undo: (() => Promise<unknown>)[] = [];
  try {
    await qmp.execute('blockdev-add', {
      driver: disk.target.startsWith('/dev/') ? 'host_device' : 'file',
      filename: disk.target,
      'node-name': `${id}-file`,
      'read-only': readOnly,
      discard: 'unmap',
    });
    undo.push(() => qmp.execute('blockdev-del', { 'node-name': `${id}-file` }));
    await qmp.execute('blockdev-add', {
      driver: blockFormat(disk.format),
      file: `${id}-file`,
      'node-name': id,
      'read-only': readOnly,
      discard: 'unmap',
    });
    undo.push(() => qmp.execute('blockdev-del', { 'node-name': id }));
    await qmp.execute('device_add', { driver: 'virtio-blk-pci', drive: id, id: `${id}-dev`, bus: port });
  } catch (error) {
    await unwind(undo);
    throw error;
  }
  return {
    config: { ...config, disks: [...config.disks, disk] },
    table: { ...table, disks: [...table.disks, { id, port }] },
  };
}

/** Asks the guest to release device `device` and waits for QEMU to remove it (gone already counts). */
async function unplug(qmp: QmpClient, guest: string, device: string, timeoutMs: number): Promise<void> {
  const deleted = qmp.waitForEvent('DEVICE_DELETED', timeoutMs, (e) => e.data.device === device);
  try {
    await qmp.execute('device_del', { id: device });
  } catch (error) {
    deleted.catch(() => undefined);
    // Released after an earlier detach gave up waiting: only the backend is left to remove.
    if (error instanceof XenkitError && /not found/i.test(error.message)) return;
    throw error;
  }
  try {
    await deleted;
  } catch (error) {
    throw new XenkitError(
      'E_HOTPLUG',
      `guest "${guest}" did not release ${device} within ${Math.round(timeoutMs / 1000)} s`,
      {
        hint: 'the guest must handle ACPI hotplug (Linux does once booted); run the detach again later',
        cause: error,
      },
    );
  }
}

/** The index of a device the guest booted with is refused: it sits on pcie.0, which cannot unplug. */
function refuseBootDevice(guest: string, what: string, port: string | undefined): void {
  if (port !== undefined) return;
  throw usageError(
    'E_HOTPLUG',
    `guest "${guest}": ${what} was there at boot, and QEMU cannot unplug a device it booted with`,
    `remove it from the cfg and restart the guest (xm shutdown ${guest}; xm create ${guest})`,
  );
}

/** Hot-unplugs the disk `vdev`; returns the new config and table. */
export async function detachDisk(
  qmp: QmpClient,
  guest: string,
  devices: Devices,
  vdev: string,
  timeoutMs = UNPLUG_TIMEOUT_MS,
): Promise<Devices> {
  const { config, table } = devices;
  const index = config.disks.findIndex((d) => d.vdev === vdev);
  const entry = table.disks[index];
  if (index < 0 || !entry) {
    throw usageError(
      'E_HOTPLUG',
      `guest "${guest}" has no disk ${vdev}`,
      `see them with: xm block-list ${guest}`,
    );
  }
  refuseBootDevice(guest, `disk ${vdev}`, entry.port);
  await unplug(qmp, guest, `${entry.id}-dev`, timeoutMs);
  await qmp.execute('blockdev-del', { 'node-name': entry.id });
  await qmp.execute('blockdev-del', { 'node-name': `${entry.id}-file` });
  return {
    config: { ...config, disks: config.disks.filter((_, i) => i !== index) },
    table: { ...table, disks: table.disks.filter((_, i) => i !== index) },
  };
}

/** What block-list shows of a guest's disks. */
export function listDisks(devices: Devices): BlockDevice[] {
  return devices.config.disks.map((disk, i) => {
    const entry = devices.table.disks[i];
    return {
      vdev: disk.vdev,
      target: disk.target,
      format: disk.format,
      access: disk.access,
      isCdrom: disk.isCdrom,
      hotplugged: entry?.port !== undefined,
      details: { qemuId: entry?.id, ...(entry?.port ? { port: entry.port } : {}) },
    };
  });
}

/** What network-list shows of a guest's NICs. */
export function listNics(devices: Devices): NetworkDevice[] {
  return devices.config.vifs.map((vif, i) => {
    const entry = devices.table.nics[i];
    return {
      devid: entry?.devid ?? i,
      mac: (vif.mac ?? '').toLowerCase(),
      bridge: vif.bridge,
      model: vif.model,
      hotplugged: entry?.port !== undefined,
      details: { qemuId: entry?.id, ...(entry?.port ? { port: entry.port } : {}) },
    };
  });
}

/** How the new NIC's netdev is made: a tap on a bridge, or QEMU's user network. */
export type NetdevPlan = { kind: 'tap'; tap: string; bridge: string } | { kind: 'user' };

/** Hot-plugs a NIC; `plan` says how its netdev is served, `attachTap` enslaves a tap to its bridge. */
export async function attachNic(
  qmp: QmpClient,
  guest: string,
  devices: Devices,
  vif: VifConfig,
  plan: (devid: number) => NetdevPlan,
  attachTap: (tap: string, bridge: string) => Promise<void>,
): Promise<{ devices: Devices; nic: NetworkDevice; tap?: string }> {
  const { config, table } = devices;
  const mac = parseMac(vif.mac ?? randomXenMac(), `guest "${guest}": MAC`);
  if (config.vifs.some((v) => v.mac?.toUpperCase() === mac)) {
    throw usageError(
      'E_HOTPLUG',
      `guest "${guest}" has a NIC with MAC ${mac} already`,
      'give another mac=, or none',
    );
  }
  const port = freePort(guest, table);
  const id = nextId('net', table.nics);
  const devid = Math.max(-1, ...table.nics.map((n) => n.devid)) + 1;
  const how = plan(devid);
  const undo: (() => Promise<unknown>)[] = [];
  try {
    if (how.kind === 'tap') {
      await qmp.execute('netdev_add', { type: 'tap', id, ifname: how.tap, script: 'no', downscript: 'no' });
      undo.push(() => qmp.execute('netdev_del', { id }));
      await attachTap(how.tap, how.bridge);
    } else {
      await qmp.execute('netdev_add', { type: 'user', id });
      undo.push(() => qmp.execute('netdev_del', { id }));
    }
    await qmp.execute('device_add', {
      driver: nicModel(vif.model),
      netdev: id,
      id: `${id}-dev`,
      mac: mac.toLowerCase(),
      bus: port,
    });
  } catch (error) {
    await unwind(undo);
    throw error;
  }
  const added: VifConfig = { ...vif, mac, bridge: how.kind === 'tap' ? how.bridge : vif.bridge };
  const next: Devices = {
    config: { ...config, vifs: [...config.vifs, added] },
    table: { ...table, nics: [...table.nics, { id, port, devid }] },
  };
  const nic = listNics(next).at(-1) as NetworkDevice;
  return { devices: next, nic, ...(how.kind === 'tap' ? { tap: how.tap } : {}) };
}

/** Hot-unplugs the NIC with device ID or MAC `which`; returns the new config and table. */
export async function detachNic(
  qmp: QmpClient,
  guest: string,
  devices: Devices,
  which: number | string,
  timeoutMs = UNPLUG_TIMEOUT_MS,
): Promise<Devices> {
  const { config, table } = devices;
  const index =
    typeof which === 'number'
      ? table.nics.findIndex((n) => n.devid === which)
      : config.vifs.findIndex((v) => v.mac?.toUpperCase() === which.toUpperCase());
  const entry = table.nics[index];
  if (index < 0 || !entry) {
    throw usageError(
      'E_HOTPLUG',
      `guest "${guest}" has no NIC ${which}`,
      `see them with: xm network-list ${guest}`,
    );
  }
  refuseBootDevice(guest, `NIC ${which}`, entry.port);
  await unplug(qmp, guest, `${entry.id}-dev`, timeoutMs);
  await qmp.execute('netdev_del', { id: entry.id });
  return {
    config: { ...config, vifs: config.vifs.filter((_, i) => i !== index) },
    table: { ...table, nics: table.nics.filter((_, i) => i !== index) },
  };
}

/**
 * The QEMU driver's verbs over a running guest's devices and limits: block-/network-attach,
 * -detach and -list, vcpu-list and vcpu-pin, mem-max and dmesg. Changes to the devices are made
 * under the guest's lock and kept in its registry record (the live config), never in its cfg.
 */
import { readlinkSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { usageError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { assertGuestName } from '../../model/guest-name.js';
import type { Paths } from '../../paths.js';
import { withLock } from '../../plan/lock-file.js';
import type { HypervisorDriver } from '../driver.js';
import { attachTap, isBridge, refuseScriptedVifs, tapName } from './bridge-tap.js';
import { readLogTail } from './console.js';
import {
  attachDisk,
  attachNic,
  detachDisk,
  detachNic,
  listDisks,
  listNics,
  type Devices,
  type NetdevPlan,
} from './device-hotplug.js';
import { deviceTable } from './hotplug-ports.js';
import type { QmpClient } from './qmp-client.js';
import { qemuGuestName, renameMarkerPath } from './qemu-processes.js';
import type { DomainRecord, Registry } from './registry.js';
import { allowsHostLoopback } from './user-net.js';
import { listVcpus, pinVcpus } from './vcpu-pin.js';

/** What the verbs need from the driver. */
export interface VerbContext {
  paths: Paths;
  registry: Registry;
  mustRead(name: string): Promise<DomainRecord>;
  qmpOf<T>(record: DomainRecord, fn: (qmp: QmpClient) => Promise<T>): Promise<T>;
}

type Verbs = Required<
  Pick<
    HypervisorDriver,
    | 'blockAttach'
    | 'blockDetach'
    | 'blockList'
    | 'networkAttach'
    | 'networkDetach'
    | 'networkList'
    | 'vcpuList'
    | 'vcpuPin'
    | 'setMaxMemory'
    | 'dmesg'
    | 'rename'
  >
>;

const MiB = 1024 * 1024;

/** How much of a guest's console log `dmesg` prints. */
const DMESG_BYTES = 64 * 1024;

/** The RAM QEMU was started with (`-m NM`): mem-max cannot go above it. */
export function launchedRamMiB(record: DomainRecord): number {
  const at = record.argv.indexOf('-m');
  const mib = Number.parseInt(record.argv[at + 1] ?? '', 10);
  return at >= 0 && Number.isInteger(mib) ? mib : record.config.maxmem;
}

/** Whether QEMU `pid` runs in a network namespace of its own (the default user network). */
function inOwnNetns(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) !== readlinkSync('/proc/self/ns/net');
  } catch {
    return false;
  }
}

/** The verbs, bound to one driver's registry. */
export function deviceVerbs(ctx: VerbContext): Verbs {
  const { registry, mustRead, qmpOf } = ctx;
  const devicesOf = (record: DomainRecord): Devices => ({
    config: record.config,
    table: deviceTable(record.config, record.devices),
  });
  /** Runs `fn` on the live record under the guest's lock and saves the devices it returns. */
  const change = <T>(
    name: string,
    fn: (record: DomainRecord, qmp: QmpClient) => Promise<{ devices: Devices; result: T; taps?: string[] }>,
  ): Promise<T> =>
    withLock(path.join(ctx.paths.lockDir, `guest-${name}.lock`), `guest "${name}"`, async () => {
      const record = await mustRead(name);
      const out = await qmpOf(record, (qmp) => fn(record, qmp));
      const current = (await registry.read(name)) ?? record;
      registry.save({
        ...current,
        config: out.devices.config,
        devices: out.devices.table,
        taps: [...current.taps, ...(out.taps ?? [])],
      });
      return out.result;
    });

  const netdevPlan = (record: DomainRecord, config: DomainConfig) => {
    const own = inOwnNetns(record.pid);
    return (vif: DomainConfig['vifs'][number]) =>
      (devid: number): NetdevPlan => {
        if (vif.bridge !== undefined && isBridge(vif.bridge)) {
          if (own) {
            throw usageError(
              'E_HOTPLUG',
              `guest "${record.name}": its QEMU runs in a network namespace of its own (its NICs are all on the user network), where bridge ${vif.bridge} is out of reach`,
              'put a bridged vif in its cfg and restart it; a user-network NIC can be attached without bridge=',
            );
          }
          return { kind: 'tap', tap: tapName(vif, record.id, devid), bridge: vif.bridge };
        }
        if (!own && allowsHostLoopback(config) !== true) {
          throw usageError(
            'E_HOTPLUG',
            `guest "${record.name}": a user-network NIC would reach the host's loopback services from its QEMU, which runs in the host's network namespace`,
            'attach with bridge=BRIDGE, or give the guest a user-network vif in its cfg and restart it',
          );
        }
        return { kind: 'user' };
      };
  };

  return {
    blockAttach: (name, disk) =>
      change(name, async (record, qmp) => ({
        devices: await attachDisk(qmp, name, devicesOf(record), disk),
        result: undefined,
      })),
    blockDetach: (name, vdev) =>
      change(name, async (record, qmp) => ({
        devices: await detachDisk(qmp, name, devicesOf(record), vdev),
        result: undefined,
      })),
    async blockList(name) {
      return listDisks(devicesOf(await mustRead(name)));
    },
    networkAttach: (name, vif) =>
      change(name, async (record, qmp) => {
        refuseScriptedVifs(name, [vif]);
        const plan = netdevPlan(record, record.config)(vif);
        const out = await attachNic(qmp, name, devicesOf(record), vif, plan, attachTap);
        return { devices: out.devices, result: out.nic, ...(out.tap ? { taps: [out.tap] } : {}) };
      }),
    networkDetach: (name, which) =>
      change(name, async (record, qmp) => ({
        devices: await detachNic(qmp, name, devicesOf(record), which),
        result: undefined,
      })),
    async networkList(name) {
      return listNics(devicesOf(await mustRead(name)));
    },
    async vcpuList(name) {
      const record = await mustRead(name);
      return qmpOf(record, (qmp) => listVcpus(qmp, record.pid, os.cpus().length));
    },
    async vcpuPin(name, vcpu, cpus) {
      const record = await mustRead(name);
      await qmpOf(record, (qmp) => pinVcpus(qmp, name, vcpu, cpus, os.cpus().length));
    },
    setMaxMemory: (name, bytes) =>
      withLock(path.join(ctx.paths.lockDir, `guest-${name}.lock`), `guest "${name}"`, async () => {
        const record = await mustRead(name);
        const mib = Math.floor(bytes / MiB);
        const ram = launchedRamMiB(record);
        if (mib > ram) {
          throw usageError(
            'E_MEMORY',
            `guest "${name}": ${mib} MiB is more than the ${ram} MiB its QEMU was started with`,
            `set maxmem = ${mib} in its cfg and restart it`,
          );
        }
        const balloon = await qmpOf(record, (q) => q.execute<{ actual: number }>('query-balloon')).catch(
          () => ({ actual: record.config.memory * MiB }),
        );
        const current = Math.round(balloon.actual / MiB);
        if (mib < current) {
          throw usageError(
            'E_MEMORY',
            `guest "${name}": ${mib} MiB is below its current memory ${current} MiB`,
            `lower its memory first: xm mem-set ${name} ${mib}M`,
          );
        }
        registry.save({ ...record, config: { ...record.config, maxmem: mib } });
      }),
    async rename(name, newName, options) {
      assertGuestName(newName, 'xm rename');
      // Both names' locks, in name order: no start of either guest can interleave.
      const [first, second] = [name, newName].sort() as [string, string];
      const lockOf = (n: string): string => path.join(ctx.paths.lockDir, `guest-${n}.lock`);
      await withLock(lockOf(first), `guest "${first}"`, () =>
        withLock(lockOf(second), `guest "${second}"`, async () => {
          const record = await mustRead(name);
          if (await registry.read(newName)) {
            throw usageError(
              'E_DOMAIN_EXISTS',
              `guest "${newName}" is running already`,
              'choose a name no guest has',
            );
          }
          const from = registry.runtimePaths(name).dir;
          const to = registry.runtimePaths(newName).dir;
          renameSync(from, to);
          // QEMU keeps the -name and -pidfile it started with: the marker maps them to the new name.
          const origin = qemuGuestName(record.argv) ?? name;
          const marker = renameMarkerPath(ctx.paths.stateDir, origin);
          if (origin === newName) rmSync(marker, { force: true });
          else writeFileSync(marker, `${newName} ${record.pid}\n`, { mode: 0o600 });
          registry.save({
            ...record,
            name: newName,
            config: { ...record.config, name: newName },
            cfgPath: options?.cfgPath ?? record.cfgPath,
          });
        }),
      );
    },
    async dmesg(options) {
      if (options.name === undefined) {
        throw usageError(
          'E_UNSUPPORTED',
          "QEMU keeps no hypervisor message log like Xen's (xl dmesg)",
          "`xm dmesg NAME` prints a guest's console log (its kernel's messages on the serial console)",
        );
      }
      await mustRead(options.name);
      const rt = registry.runtimePaths(options.name);
      const text = (await readLogTail(rt.consoleLog, DMESG_BYTES)).toString('utf8');
      if (options.clear) truncateSync(rt.consoleLog, 0);
      return text;
    },
  };
}

/** Whether any device of the guest was hot-plugged (a save file could not carry it). */
export function hasHotplugged(record: DomainRecord): boolean {
  const table = record.devices;
  return table !== undefined && [...table.disks, ...table.nics].some((d) => d.port !== undefined);
}

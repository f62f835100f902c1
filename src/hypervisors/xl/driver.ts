/**
 * The xl driver: xenkit's verbs on a real Xen dom0, each one a run of Xen's own `xl`.
 * The table of `xl list` gives state, vCPUs online and CPU time; `xl list -l` gives the limits
 * (maxmem, maxvcpus) and the libxl config; `xl uptime` the start times.
 */
import { closeSync, openSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { runtimeError, usageError } from '../../errors.js';
import type { Paths } from '../../paths.js';
import type { DomainConfig } from '../../model/domain-config.js';
import {
  attachXlConsole,
  blockAttachXl,
  blockDetachXl,
  listXlVcpus,
  networkAttachXl,
  networkDetachXl,
  pinXlVcpu,
  readXlDmesg,
  renameXlDomain,
  setXlMaxMemory,
  createXlDomain,
  destroyXlDomain,
  listXlDomains,
  listXlDomainsLong,
  pauseXlDomain,
  restoreXlDomain,
  saveXlDomain,
  sysrqXlDomain,
  readXlInfo,
  readXlUptime,
  rebootXlDomain,
  schedXlCredit,
  setXlMemory,
  setXlVcpus,
  shutdownXlDomain,
  unpauseXlDomain,
  type XlOptions,
} from '../../tools/xl.js';
import type { CreateOptions, DomainInfo, HostInfo, HypervisorDriver } from '../driver.js';
import { schedulerOf } from '../../tools/xl-parse-info.js';
import type { XlDomainRecord } from '../../tools/xl-parse-list-long.js';
import { xlConfigDisks, xlConfigNics } from '../../tools/xl-parse-devices.js';
import { formatDiskSpec } from '../../formats/xl-cfg-disk.js';
import { formatVifSpec } from '../../formats/xl-cfg-vif.js';
import type { XlListRow, XlUptimeRow } from '../../tools/xl-parse-list.js';
import { refuseExistingSaveFile } from '../save-target.js';
import { settleAll } from '../../plan/settle-all.js';

/**
 * How long `shutdown -w` keeps waiting for the domain to leave `xl list` after xl's own wait
 * ended: xl returns once the domain has shut down, and its destruction (on_poweroff=destroy)
 * follows: a moment later on real hardware, but 20-40 s for a 384 MiB pv guest in a nested dom0
 * under TCG, where 15 s let `xm shutdown -w` return with the domain still listed. A domain kept
 * by on_poweroff=preserve stays listed; that is fine, after this wait.
 */
const GONE_WAIT_MS = 60_000;

export interface XlDriverOptions {
  /** See GONE_WAIT_MS (tests shorten it). */
  goneWaitMs?: number;
  paths: Paths;
  /** How to run xl (binary, environment, exec log sink). */
  xl?: XlOptions;
  /** The clock, for start times derived from `xl uptime`. */
  now?: () => Date;
}

/** Merges one `xl list` row with its `xl list -l` record and `xl uptime` row. */
export function toDomainInfo(
  row: XlListRow,
  record: XlDomainRecord | undefined,
  uptime: XlUptimeRow | undefined,
  now: Date,
): DomainInfo {
  return {
    name: row.name,
    id: row.id,
    memoryMiB: row.memoryMiB,
    maxMemoryMiB: Math.max(record?.maxMemoryMiB ?? 0, row.memoryMiB),
    vcpus: row.vcpus,
    maxVcpus: Math.max(record?.maxVcpus ?? 0, row.vcpus),
    state: row.state,
    cpuTimeSec: row.cpuTimeSec,
    startedAt: uptime ? new Date(now.getTime() - uptime.uptimeSec * 1000) : undefined,
    // libxl does not remember which file a domain came from.
    cfgPath: undefined,
    details: {
      driver: 'xl',
      stateLetters: row.stateLetters,
      ...(record?.uuid ? { uuid: record.uuid } : {}),
      ...(record?.type ? { type: record.type } : {}),
      ...(record ? { config: record.config } : {}),
    },
  };
}

/** A HypervisorDriver over the `xl` command of a Xen dom0. */
export function createXlDriver(options: XlDriverOptions): HypervisorDriver {
  const xl = options.xl ?? {};
  const now = options.now ?? (() => new Date());
  let scheduler: Promise<string> | undefined;

  const readScheduler = (): Promise<string> => (scheduler ??= readXlInfo(xl).then(schedulerOf));

  const list = async (): Promise<DomainInfo[]> => {
    // settleAll, not Promise.all: when one xl fails, the others are waited for, so list never
    // returns (and its caller never goes on) while xl processes of it still run.
    const [rows, records, uptimes] = await settleAll([
      listXlDomains(xl),
      listXlDomainsLong(xl),
      // Start times are a nicety: a failing `xl uptime` must not break `list`.
      readXlUptime(xl).catch((): XlUptimeRow[] => []),
    ]);
    const at = now();
    return rows
      .filter((row) => row.id !== 0)
      .map((row) =>
        toDomainInfo(
          row,
          records.find((r) => r.id === row.id),
          uptimes.find((u) => u.id === row.id),
          at,
        ),
      )
      .sort((a, b) => a.id - b.id);
  };

  /** The libxl config of running domain `name` (hot-plugged devices included). */
  const configOf = async (name: string): Promise<Record<string, unknown>> => {
    const record = (await listXlDomainsLong(xl)).find((r) => r.name === name);
    if (!record) {
      throw usageError(
        'E_NO_DOMAIN',
        `domain "${name}" is not running`,
        'see the running domains with: xm list',
      );
    }
    return record.config;
  };

  return {
    name: 'xl',

    async hostInfo(): Promise<HostInfo> {
      const [info, rows] = await settleAll([readXlInfo(xl), listXlDomains(xl)]);
      const dom0 = rows.find((row) => row.id === 0);
      return {
        driver: 'xl',
        hostMemoryMiB: dom0?.memoryMiB ?? Number(info.total_memory ?? 0),
        hostCpus: dom0?.vcpus ?? Number(info.nr_cpus ?? 0),
        hostCpuTimeSec: dom0?.cpuTimeSec ?? 0,
        details: {
          stateLetters: dom0?.stateLetters ?? 'r-----',
          xenScheduler: schedulerOf(info),
          xlInfo: info,
        },
      };
    },

    list,

    async create(config: DomainConfig, create: CreateOptions): Promise<DomainInfo> {
      if (!create.cfgPath) {
        throw usageError(
          'E_XL_NEED_CFG',
          `domain "${config.name}": the xl driver starts domains from a cfg file, and none was given`,
          `write it to /etc/xen/${config.name}.cfg and run \`xm create ${config.name}\``,
        );
      }
      await createXlDomain(
        path.resolve(create.cfgPath),
        { paused: create.paused, overrides: create.overrides },
        xl,
      );
      const started = (await list()).find((domain) => domain.name === config.name);
      if (!started) {
        throw runtimeError(
          'E_XL_NOT_STARTED',
          `domain "${config.name}": xl create succeeded but the domain is not running`,
          'it may have crashed at once: see /var/log/xen/ and `xl dmesg`',
        );
      }
      return { ...started, cfgPath: create.cfgPath };
    },

    // xl attaches to the terminal itself, so the console runs on our stdio, not on io's streams.
    console: (name) => attachXlConsole(name, xl),
    async shutdown(name, opts) {
      await shutdownXlDomain(name, opts.wait, { ...xl, timeoutMs: opts.timeoutMs });
      if (!opts.wait) return;
      const deadline = Date.now() + (options.goneWaitMs ?? GONE_WAIT_MS);
      while ((await listXlDomains(xl)).some((row) => row.name === name) && Date.now() < deadline)
        await sleep(250);
    },
    reboot: (name, opts) => rebootXlDomain(name, opts.wait, { ...xl, timeoutMs: opts.timeoutMs }),
    destroy: (name) => destroyXlDomain(name, xl),
    pause: (name) => pauseXlDomain(name, xl),
    unpause: (name) => unpauseXlDomain(name, xl),
    setVcpus: (name, count, options) => setXlVcpus(name, count, xl, options?.ignoreHost === true),
    setMemory: (name, bytes) => setXlMemory(name, bytes, xl),
    async schedCredit(name, params) {
      return schedXlCredit(await readScheduler(), name, params, xl);
    },
    sysrq: (name, key) => sysrqXlDomain(name, key, xl),
    blockAttach: (name, disk) => blockAttachXl(name, formatDiskSpec(disk), xl),
    blockDetach: (name, vdev) => blockDetachXl(name, vdev, xl),
    blockList: async (name) => xlConfigDisks(await configOf(name)),
    async networkAttach(name, vif) {
      const before = new Set(xlConfigNics(await configOf(name)).map((n) => n.devid));
      await networkAttachXl(name, formatVifSpec(vif).split(',').filter(Boolean), xl);
      const nics = xlConfigNics(await configOf(name));
      const added = nics.find((n) => !before.has(n.devid)) ?? nics.at(-1);
      if (!added) {
        throw runtimeError(
          'E_XL',
          `xl network-attach ${name} succeeded but the domain lists no new NIC`,
          `see xl network-list ${name}`,
        );
      }
      return { ...added, hotplugged: true };
    },
    networkDetach: (name, which) => networkDetachXl(name, String(which), xl),
    networkList: async (name) => xlConfigNics(await configOf(name)),
    vcpuList: (name) => listXlVcpus(name, xl),
    vcpuPin: (name, vcpu, cpus) => pinXlVcpu(name, String(vcpu), cpus, xl),
    setMaxMemory: (name, bytes) => setXlMaxMemory(name, bytes, xl),
    rename: (name, newName) => renameXlDomain(name, newName, xl),
    async dmesg(opts) {
      if (opts.name !== undefined) {
        throw usageError(
          'E_ARG',
          `xl dmesg shows Xen's own message log, not domain "${opts.name}"'s`,
          `see the guest's kernel messages on its console: xm console ${opts.name}`,
        );
      }
      return readXlDmesg(opts.clear === true, xl);
    },
    async save(name, file) {
      refuseExistingSaveFile(file);
      // xl save makes its file 0644 (seen on Xen 4.17), and it holds the guest's memory: the file
      // is made here first, 0600, and xl truncates and writes into it, keeping the mode.
      closeSync(openSync(file, 'wx', 0o600));
      try {
        await saveXlDomain(name, file, xl);
      } catch (error) {
        rmSync(file, { force: true });
        throw error;
      }
    },
    async restore(file, restore) {
      const before = new Set((await list()).map((d) => d.id));
      await restoreXlDomain(file, restore.paused === true, xl);
      // The restored domain is the new one; Xen numbers domains upwards, so else the newest.
      const after = (await list()).sort((a, b) => b.id - a.id);
      const restored = after.find((d) => !before.has(d.id)) ?? after[0];
      if (!restored) {
        throw runtimeError(
          'E_XL_NOT_STARTED',
          `xl restore ${file} succeeded but no domain is running`,
          'it may have crashed at once: see /var/log/xen/ and `xl dmesg`',
        );
      }
      return restored;
    },
  };
}

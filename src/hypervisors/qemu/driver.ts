/**
 * The QEMU hypervisor driver: `xm` verbs on QEMU guests (KVM when the CPU has it, else TCG),
 * with no daemon of ours. QEMU daemonizes with a pidfile, a QMP socket, a console socket and an
 * event log; every later command finds them through the runtime registry.
 * Reboot and domain IDs: see registry.ts (guest reboots) and `reboot` below (xm reboot).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { usageError } from '../../errors.js';
import type { EventSink } from '../../log/events.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { assertGuestName } from '../../model/guest-name.js';
import { randomXenMac } from '../../model/mac.js';
import type { Paths } from '../../paths.js';
import { acquireLock } from '../../plan/lock-file.js';
import { launchQemu, readQemuCpuFlags } from '../../tools/qemu-system.js';
import { probeAccel, type AccelChoice } from '../accel-probe.js';
import type { CreateOptions, DomainInfo, HostInfo, HypervisorDriver, ShutdownOptions } from '../driver.js';
import { buildQemuArgv, QEMU_BINARY } from './argv.js';
import { attachTap, planTaps, refuseScriptedVifs } from './bridge-tap.js';
import {
  applySched,
  DEFAULT_SCHED,
  findCpuCgroup,
  removeSchedCgroup,
  type CpuCgroupRoot,
} from './cgroup-sched.js';
import { attachConsole } from './console.js';
import { copyRunningDisks } from './disk-copy.js';
import { describeDomain } from './domain-info.js';
import { withQemuLastWords } from './qemu-log.js';
import { deviceVerbs, hasHotplugged } from './driver-verbs.js';
import { activateEventLog, prepareEventLog } from './event-log.js';
import { resolveBootFiles } from './boot-files.js';
import { releaseBootPages } from './boot-pages.js';
import { bootablePvhKernel } from './pvh-kernel.js';
import { killQemu, pressPowerButton, waitForPoweroff } from './lifecycle.js';
import { readHostStats } from './proc-stats.js';
import { withQmp } from './qmp-client.js';
import { originDirOf, qemuFromPidfile } from './qemu-processes.js';
import { findQemuProcesses, openRegistry, type DomainRecord } from './registry.js';
import { ensureRuntimeBase, type RuntimePaths } from './runtime-paths.js';
import { readSaveHeader } from './save-file.js';
import { restoredBootFiles, saveGuest, shellQuote, waitForMigration, type Restore } from './save-restore.js';
import { connectUserNet, launchArgv, startUserNets, stopUserNets, userNetMode } from './user-net.js';
import { setGuestVcpus } from './vcpu-hotplug.js';

export interface QemuDriverOptions {
  paths: Paths;
  /** `kvm` or `tcg` from the command line (else XENKIT_ACCEL, else probed). */
  accel?: string | undefined;
  /** The emulator (default qemu-system-x86_64). */
  qemuBinary?: string;
  /** Where cgroup filesystems are mounted (default /sys/fs/cgroup). */
  cgroupRoot?: string;
  /** Default wait for shutdown/reboot, ms (default 120 s: TCG guests are slow). */
  shutdownTimeoutMs?: number;
  /** The passt binary for user networking (default passt). */
  passtBinary?: string;
  /** slirp4netns for the user network of guests whose QEMU runs in its own namespace (default: on PATH). */
  slirp4netnsBinary?: string;
  /** Receives warnings, e.g. for a QEMU adopted back into the registry after its xm died. */
  sink?: EventSink;
}

const MiB = 1024 * 1024;
/** How long `xm create` waits for the firmware to read the initrd before it pages out the rest. */
const INITRD_WAIT_MS = 5000;

/** A HypervisorDriver running guests under QEMU. */
export function createQemuDriver(opts: QemuDriverOptions): HypervisorDriver {
  let cgroup: CpuCgroupRoot | undefined | null = null;
  const cpuCgroup = (): CpuCgroupRoot | undefined =>
    cgroup === null ? (cgroup = findCpuCgroup(opts.cgroupRoot)) : cgroup;
  const registry = openRegistry(opts.paths, {
    onStale: (r) => removeSchedCgroup(r.sched?.cgroup),
    ...(opts.sink ? { sink: opts.sink } : {}),
  });
  let accel: Promise<AccelChoice> | undefined;
  const chooseAccel = (): Promise<AccelChoice> => (accel ??= probeAccel({ accel: opts.accel }));
  const timeoutOf = (o: ShutdownOptions): number => o.timeoutMs ?? opts.shutdownTimeoutMs ?? 120_000;

  const mustRead = async (name: string): Promise<DomainRecord> => {
    const record = await registry.read(name);
    if (!record) {
      throw usageError(
        'E_NO_DOMAIN',
        `guest "${name}" is not running`,
        'see the running guests with: xm list',
      );
    }
    return record;
  };
  const qmpOf = async <T>(record: DomainRecord, fn: Parameters<typeof withQmp<T>>[2]): Promise<T> => {
    const rt = registry.runtimePaths(record.name);
    try {
      return await withQmp(rt.qmpSocket, { guest: record.name }, fn);
    } catch (error) {
      throw withQemuLastWords(error, rt.qemuLog);
    }
  };

  /**
   * Starts a guest under its guest lock (a second start of the same guest is refused with
   * E_LOCKED). A provisional record naming this process is saved before QEMU starts, so a QEMU
   * left behind by a killed launcher is found (by its pidfile) and adopted by the next read.
   */
  const launch = async (
    config: DomainConfig,
    cfgPath: string | undefined,
    paused: boolean,
    restore?: Restore,
  ): Promise<DomainRecord> => {
    assertGuestName(config.name, cfgPath ?? 'xm create');
    const lock = await acquireLock(
      path.join(opts.paths.lockDir, `guest-${config.name}.lock`),
      `guest "${config.name}"`,
    );
    try {
      return await launchLocked(config, cfgPath, paused, restore);
    } finally {
      lock.release();
    }
  };

  const launchLocked = async (
    config: DomainConfig,
    cfgPath: string | undefined,
    paused: boolean,
    restore?: Restore,
  ): Promise<DomainRecord> => {
    refuseScriptedVifs(config.name, config.vifs);
    const existing = await registry.read(config.name);
    if (existing) {
      throw usageError(
        'E_DOMAIN_EXISTS',
        `guest "${config.name}" is already running (ID ${existing.id})`,
        `stop it first: xm shutdown ${config.name}`,
      );
    }
    const rt = registry.runtimePaths(config.name);
    // Leftovers of an earlier run: its QEMU is gone (read found none by record, pidfile or /proc).
    stopUserNets(rt);
    registry.remove(config.name);
    ensureRuntimeBase(opts.paths.stateDir);
    mkdirSync(rt.dir, { recursive: true, mode: 0o700 });
    const dc: DomainConfig = {
      ...config,
      vifs: config.vifs.map((v) => ({ ...v, mac: v.mac ?? randomXenMac() })),
    };
    try {
      const boot = restore
        ? restoredBootFiles(restore, rt.kernelCacheDir)
        : await resolveBootFiles(dc, rt.kernelCacheDir);
      const choice = await chooseAccel();
      if (!restore && choice.kind === 'tcg' && boot.kernel !== undefined) {
        boot.kernel = await bootablePvhKernel(
          boot.kernel,
          path.join(opts.paths.cacheDir, 'pvh-kernels'),
          rt.dir,
        );
      }
      const id = await registry.allocateId();
      const taps = planTaps(dc.vifs, id);
      const binary = opts.qemuBinary ?? QEMU_BINARY;
      const argv = buildQemuArgv(dc, rt, {
        accel: choice.kind,
        ...boot,
        taps,
        binary,
        cpuFlags:
          choice.kind === 'tcg'
            ? await readQemuCpuFlags(binary, path.join(opts.paths.cacheDir, 'qemu-cpu-flags.json'))
            : undefined,
      });
      // The saved state streams in from where it starts in the save file (tail counts from 1).
      if (restore)
        argv.push('-incoming', `exec:tail -c +${restore.header.stateOffset + 1} ${shellQuote(restore.file)}`);
      const record: DomainRecord = {
        id,
        name: dc.name,
        pid: 0,
        launcherPid: process.pid,
        cfgPath,
        startedAt: new Date().toISOString(),
        argv,
        accel: choice,
        taps: taps.filter((t): t is string => t !== undefined),
        resetsSeen: 0,
        config: dc,
        kernel: boot.kernel,
        initrd: boot.initrd,
      };
      registry.save(record);
      await prepareEventLog(rt);
      const userNet = userNetMode(dc, taps);
      const binaries = { passt: opts.passtBinary, slirp4netns: opts.slirp4netnsBinary };
      await startUserNets(dc, rt, taps, binaries);
      await launchQemu(launchArgv(userNet, rt, argv));
      record.pid = Number.parseInt(readFileSync(rt.pidfile, 'utf8').trim(), 10);
      delete record.launcherPid;
      registry.save(record);
      await connectUserNet(userNet, rt, record.pid, binaries);
      await activateEventLog(rt, dc.name);
      await qmpOf(record, async (qmp) => {
        for (const [index, tap] of taps.entries()) {
          const bridge = dc.vifs[index]?.bridge;
          if (tap !== undefined && bridge !== undefined) await attachTap(tap, bridge);
        }
        if (restore) await waitForMigration(qmp, `restoring guest "${dc.name}" from ${restore.file}`);
        // The balloon driver reads this target when it loads, before userspace runs.
        else if (dc.memory < dc.maxmem) await qmp.execute('balloon', { value: dc.memory * MiB });
        if (!paused) await qmp.execute('cont');
      });
      // The kernel is in guest RAM since QEMU's start-up reset; the initrd once the firmware has
      // read it (a tenth of a second under TCG). QEMU's copies of both can go: 43 MiB for the
      // cloud kernel (boot-pages.ts). A paused guest reads its initrd when unpaused (see unpause),
      // a restored one none.
      await releaseBootPages(record.pid, boot, {
        initrdWaitMs: paused || restore ? 0 : INITRD_WAIT_MS,
        ...(opts.sink ? { sink: opts.sink } : {}),
      });
      return record;
    } catch (error) {
      // Whatever QEMU this launch started (none other can run: the guest lock is ours).
      const qemu = qemuFromPidfile(rt, dc.name) ?? findQemuProcesses(opts.paths, dc.name)[0];
      if (qemu) await killQemu({ pid: qemu.pid, name: dc.name } as DomainRecord, rt).catch(() => undefined);
      stopUserNets(rt);
      registry.remove(dc.name);
      throw error;
    }
  };

  /** Ends a guest's QEMU and everything that served it: user network, cgroup, runtime directory. */
  const endGuest = async (record: DomainRecord, rt: RuntimePaths): Promise<void> => {
    await killQemu(record, rt);
    stopUserNets(rt, originDirOf(record.argv));
    removeSchedCgroup(record.sched?.cgroup);
    registry.remove(record.name);
  };

  const driver: HypervisorDriver = {
    name: 'qemu',
    ...deviceVerbs({ paths: opts.paths, registry, mustRead, qmpOf }),
    async hostInfo(): Promise<HostInfo> {
      const [choice, host] = await Promise.all([chooseAccel(), readHostStats()]);
      return {
        driver: 'qemu',
        accel: choice,
        hostMemoryMiB: host.memoryMiB,
        hostCpus: host.cpus,
        hostCpuTimeSec: host.cpuSeconds,
        details: { qemu: opts.qemuBinary ?? QEMU_BINARY, stateDir: opts.paths.stateDir },
      };
    },
    async list(): Promise<DomainInfo[]> {
      const records = await registry.list();
      return Promise.all(records.map((r) => describeDomain(r, registry.runtimePaths(r.name))));
    },
    async create(config: DomainConfig, options: CreateOptions): Promise<DomainInfo> {
      const record = await launch(config, options.cfgPath, options.paused ?? false);
      return describeDomain(record, registry.runtimePaths(record.name));
    },
    async console(name, io) {
      await mustRead(name);
      const rt = registry.runtimePaths(name);
      await attachConsole(io, { guest: name, socketPath: rt.consoleSocket, logPath: rt.consoleLog });
    },
    async shutdown(name, options) {
      const record = await mustRead(name);
      const rt = registry.runtimePaths(name);
      await pressPowerButton(record, rt);
      // Without -w, one press, as xl does; with -w, waitForPoweroff presses again while it waits.
      if (options.wait) {
        await waitForPoweroff(record, rt, timeoutOf(options));
        await registry.read(name);
      }
    },
    async reboot(name, options) {
      // A clean reboot that Xen would number as a new domain: ACPI power-off, then a new QEMU
      // (kernel extracted again, as pygrub would) under a new ID. It always waits for the
      // power-off, since nothing of ours outlives this command to start the guest again.
      const record = await mustRead(name);
      const rt = registry.runtimePaths(name);
      await pressPowerButton(record, rt);
      await waitForPoweroff(record, rt, timeoutOf(options));
      if (record.config.onReboot === 'destroy' || record.config.onReboot === 'coredump-destroy') {
        await endGuest(record, rt);
        return;
      }
      await endGuest(record, rt);
      const next = await launch(record.config, record.cfgPath, false);
      if (record.sched) await driver.schedCredit(next.name, record.sched);
    },
    async destroy(name) {
      const record = await mustRead(name);
      const rt = registry.runtimePaths(name);
      await endGuest(record, rt);
    },
    async pause(name) {
      await qmpOf(await mustRead(name), (q) => q.execute('stop'));
    },
    async unpause(name) {
      const record = await mustRead(name);
      // `prelaunch`: created paused (`xm create -p`) and never run, so the firmware reads the
      // initrd now, and QEMU's copy of it can go once it has (a guest paused later has read it).
      const firstRun = await qmpOf(record, async (q) => {
        const { status } = await q.execute<{ status: string }>('query-status');
        await q.execute('cont');
        return status === 'prelaunch';
      });
      if (firstRun) {
        await releaseBootPages(record.pid, record, {
          initrdWaitMs: INITRD_WAIT_MS,
          ...(opts.sink ? { sink: opts.sink } : {}),
        });
      }
    },
    async setVcpus(name, count) {
      const record = await mustRead(name);
      const accel = record.argv[record.argv.indexOf('-accel') + 1] ?? '';
      const singleThreaded = accel.startsWith('tcg,thread=single');
      await qmpOf(record, (q) => setGuestVcpus(q, name, count, record.accel.kind, singleThreaded));
    },
    async setMemory(name, bytes) {
      const record = await mustRead(name);
      const mib = Math.floor(bytes / MiB);
      if (mib > record.config.maxmem) {
        throw usageError(
          'E_MEMORY',
          `guest "${name}": ${mib} MiB is more than its maxmem ${record.config.maxmem} MiB`,
          'raise maxmem in the cfg and restart the guest',
        );
      }
      if (mib < 16)
        throw usageError(
          'E_MEMORY',
          `guest "${name}": ${mib} MiB is too little memory`,
          'give it 16 MiB or more',
        );
      await qmpOf(record, (q) => q.execute('balloon', { value: mib * MiB }));
    },
    async sysrq(name, key) {
      // Alt+SysRq+KEY on the guest's PS/2 keyboard: the kernel's SysRq handler reads it there.
      const keys = ['alt', 'sysrq', key].map((data) => ({ type: 'qcode', data }));
      await qmpOf(await mustRead(name), (q) => q.execute('send-key', { keys }));
    },
    async save(name, file) {
      const record = await mustRead(name);
      if (hasHotplugged(record)) {
        throw usageError(
          'E_HOTPLUG',
          `guest "${name}" has devices attached while it runs, which a save file cannot carry`,
          `detach them first (xm block-list ${name}, xm network-list ${name})`,
        );
      }
      await saveGuest(record, file, (fn) => qmpOf(record, fn));
      await endGuest(record, registry.runtimePaths(name));
    },
    async restore(file, options) {
      const header = readSaveHeader(file);
      const record = await launch(header.config, header.cfgPath, options.paused ?? false, { file, header });
      return describeDomain(record, registry.runtimePaths(record.name));
    },
    async copyDisks(name, images, signal) {
      const record = await mustRead(name);
      return qmpOf(record, (q) => copyRunningDisks(q, record.config, images, signal ? { signal } : {}));
    },
    async schedCredit(name, params) {
      const record = await mustRead(name);
      const current = {
        weight: record.sched?.weight ?? DEFAULT_SCHED.weight,
        cap: record.sched?.cap ?? DEFAULT_SCHED.cap,
      };
      if (params.weight === undefined && params.cap === undefined) return current;
      const weight = params.weight ?? current.weight;
      const cap = params.cap ?? current.cap;
      const dir = applySched(cpuCgroup(), name, record.pid, weight, cap);
      registry.save({ ...record, sched: { weight, cap, cgroup: dir } });
      return { weight, cap };
    },
  };
  return driver;
}

/**
 * The libvirt driver: xenkit's verbs on the guests of a libvirt daemon, local or remote, through
 * `virsh --connect URI` (see tools/virsh.ts for why virsh). `create` defines the domain from the
 * cfg (so virsh, virt-manager and cockpit see it) and starts it; the domain stays defined after
 * it stops, as a defined-but-off guest of that host. Autostart is libvirt's own flag.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runtimeError, usageError, XenkitError } from '../../errors.js';
import type { EventSink } from '../../log/events.js';
import { canGainVcpus, type DomainConfig } from '../../model/domain-config.js';
import { assertGuestName } from '../../model/guest-name.js';
import { randomXenMac } from '../../model/mac.js';
import type { Paths } from '../../paths.js';
import { acquireLock } from '../../plan/lock-file.js';
import { domainXmlUuid, renderDomainXml } from '../../formats/libvirt-xml.js';
import { runCommand, runPiped } from '../../tools/exec.js';
import { settleAll } from '../../plan/settle-all.js';
import { quoteArg } from '../../log/events.js';
import {
  defineVirshDomain,
  dumpVirshXml,
  listVirshAutostart,
  listVirshDomains,
  migrateVirshDomain,
  parseJobFigure,
  readVirshCompletedJob,
  readVirshDomstats,
  readVirshHasKvm,
  readVirshNodeinfo,
  readVirshState,
  runVirsh,
  runVirshVerb,
  setVirshAutostart,
  setVirshMemory,
  setVirshVcpus,
  startVirshDomain,
  undefineVirshDomain,
  virshConsoleArgv,
  virshSchedinfo,
  type VirshOptions,
} from '../../tools/virsh.js';
import type {
  CreateOptions,
  DomainInfo,
  HostInfo,
  HypervisorDriver,
  MigrationReport,
  MigrationTarget,
  ShutdownOptions,
} from '../driver.js';
import { resolveBootFiles } from '../qemu/boot-files.js';
import { buildKernelCmdline } from '../qemu/kernel-cmdline.js';
import { toDomainInfo } from './domain-info.js';
import { schedFromVirsh, schedToVirsh } from './sched.js';
import { refuseExistingSaveFile } from '../save-target.js';
import { prepareDestination } from './storage-copy.js';

export interface LibvirtDriverOptions {
  paths: Paths;
  /** The connection URI (`qemu:///system`, `qemu+ssh://host/system`). */
  uri: string;
  /** How to run virsh (binary, environment), besides the URI. */
  virsh?: Omit<VirshOptions, 'uri'>;
  /** Default wait for shutdown -w, ms (default 120 s: TCG guests are slow). */
  shutdownTimeoutMs?: number;
  sink?: EventSink;
}

/** How often the power button is pressed again while a shutdown is awaited (a press during boot is lost). */
const POWER_BUTTON_REPEAT_MS = 10_000;

/** Whether a URI names this machine's own daemon (so host paths in the XML are this host's paths). */
export function isLocalUri(uri: string): boolean {
  const m = /^[a-z0-9+.-]+:\/\/([^/]*)\//i.exec(uri);
  const host = m?.[1] ?? '';
  return !uri.includes('+') && (host === '' || host === 'localhost');
}

/** A HypervisorDriver over a libvirt daemon. */
export function createLibvirtDriver(opts: LibvirtDriverOptions): HypervisorDriver {
  const virsh: VirshOptions = { ...opts.virsh, uri: opts.uri, ...(opts.sink ? { sink: opts.sink } : {}) };
  let kvm: Promise<boolean> | undefined;
  const hasKvm = (): Promise<boolean> => (kvm ??= readVirshHasKvm(virsh));
  /** Where the kernel of a pygrub-style guest and its last domain XML are kept (survives host reboots: autostart needs them). */
  const guestDir = (name: string): string => path.join(opts.paths.libDir, 'libvirt', name);

  const list = async (): Promise<DomainInfo[]> => {
    const [rows, stats] = await settleAll([listVirshDomains(virsh, false), readVirshDomstats(virsh)]);
    const out: DomainInfo[] = [];
    for (const row of rows) {
      const fields = stats.get(row.name);
      // Stopped between the two calls.
      if (row.id === undefined || !fields) continue;
      out.push(toDomainInfo(row, fields, opts.uri));
    }
    return out.sort((a, b) => a.id - b.id);
  };

  const mustRun = async (name: string): Promise<DomainInfo> => {
    const found = (await list()).find((d) => d.name === name);
    if (!found) {
      throw runtimeError(
        'E_NO_DOMAIN',
        `no domain "${name}" is running on ${opts.uri}`,
        `\`virsh --connect ${opts.uri} list --all\` shows libvirt's domains`,
      );
    }
    return found;
  };

  const domainXml = async (
    config: DomainConfig,
    cfgPath: string | undefined,
    uuid: string | undefined,
  ): Promise<string> => {
    const dc: DomainConfig = {
      ...config,
      vifs: config.vifs.map((v) => ({ ...v, mac: v.mac ?? randomXenMac() })),
    };
    const domainType = (await hasKvm()) ? 'kvm' : 'qemu';
    if (domainType === 'qemu' && dc.tcgCacheMiB !== undefined && canGainVcpus(dc)) {
      throw usageError(
        'E_XLCFG',
        `${cfgPath ?? dc.name}: xenkit_tcg_cache = ${dc.tcgCacheMiB} cannot be kept for a guest that can gain vCPUs (maxvcpus ${dc.maxvcpus} > vcpus ${dc.vcpus}) under libvirt`,
        'libvirt runs TCG multi-threaded, where a vCPU added to a small translation cache aborts QEMU: drop the key (QEMU keeps 1 GiB) or set maxvcpus = vcpus',
      );
    }
    const dir = guestDir(dc.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const boot = await resolveBootFiles(dc, path.join(dir, 'boot'));
    return renderDomainXml(dc, {
      domainType,
      kernel: boot.kernel,
      initrd: boot.initrd,
      cmdline: boot.kernel !== undefined ? buildKernelCmdline(dc) : undefined,
      cfgPath,
      uuid,
    });
  };

  const create = async (config: DomainConfig, create: CreateOptions): Promise<DomainInfo> => {
    assertGuestName(config.name, create.cfgPath ?? 'xm create');
    refuseRemote(`domain "${config.name}": creating a guest`);
    const lock = await acquireLock(
      path.join(opts.paths.lockDir, `guest-${config.name}.lock`),
      `guest "${config.name}"`,
    );
    try {
      const before = (await listVirshDomains(virsh)).find((row) => row.name === config.name);
      if (before && before.state !== 'shut off') {
        throw runtimeError(
          'E_DOMAIN_RUNNING',
          `domain "${config.name}" is ${before.state} on ${opts.uri}`,
          `\`xm shutdown ${config.name}\` stops it first`,
        );
      }
      // What to put back when the start fails: the definition libvirt had, or none.
      const previous = before ? await dumpVirshXml(config.name, virsh, true) : undefined;
      const xml = await domainXml(config, create.cfgPath, previous ? domainXmlUuid(previous) : undefined);
      const file = path.join(guestDir(config.name), 'domain.xml');
      writeFileSync(file, xml, { mode: 0o600 });
      await defineVirshDomain(file, virsh);
      try {
        await startVirshDomain(config.name, create.paused === true, virsh);
      } catch (error) {
        if (previous === undefined) {
          await undefineVirshDomain(config.name, virsh).catch(() => undefined);
        } else {
          const back = path.join(guestDir(config.name), 'previous.xml');
          writeFileSync(back, previous, { mode: 0o600 });
          await defineVirshDomain(back, virsh).catch(() => undefined);
          rmSync(back, { force: true });
        }
        throw error;
      }
      const started = await mustRun(config.name);
      return { ...started, cfgPath: create.cfgPath };
    } finally {
      lock.release();
    }
  };

  const refuseRemote = (what: string): void => {
    if (isLocalUri(opts.uri)) return;
    throw usageError(
      'E_UNSUPPORTED',
      `${what} on the remote libvirt ${opts.uri} is not supported yet`,
      'its files are on that host: use virsh there, or a local URI',
    );
  };

  const waitForShutoff = async (name: string, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let nextPress = Date.now() + POWER_BUTTON_REPEAT_MS;
    for (;;) {
      const state = await readVirshState(name, virsh);
      if (state === undefined || state === 'shut off' || state === 'crashed') return;
      if (Date.now() >= deadline) {
        throw runtimeError(
          'E_SHUTDOWN_TIMEOUT',
          `guest "${name}" did not power off within ${Math.round(timeoutMs / 1000)} s`,
          `the guest may ignore the ACPI power button (no acpid/systemd-logind); end it with: xm destroy ${name}`,
        );
      }
      if (Date.now() >= nextPress && state === 'running') {
        await runVirshVerb('shutdown', name, virsh).catch(() => undefined);
        nextPress = Date.now() + POWER_BUTTON_REPEAT_MS;
      }
      await sleep(250);
    }
  };
  const migrate = async (
    name: string,
    target: MigrationTarget,
    options: { live: boolean },
  ): Promise<MigrationReport> => {
    await mustRun(name);
    const dest: VirshOptions = { ...virsh, uri: target.uri };
    // Asked first: an unreachable destination fails here (E_LIBVIRT_CONNECT names its URI).
    const there = (await listVirshDomains(dest)).find((row) => row.name === name);
    if (there) {
      throw usageError(
        'E_MIGRATE',
        `host ${target.label} (${target.uri}) has a domain "${name}" already (${there.state})`,
        `remove or rename it there first (virsh --connect ${target.uri} undefine ${name})`,
      );
    }
    const autostart = (await listVirshAutostart(virsh)).includes(name);
    const storage = await prepareDestination(
      name,
      { virsh, label: opts.uri, isLocal: isLocalUri(opts.uri) },
      { virsh: dest, label: target.label, isLocal: isLocalUri(target.uri) },
    );
    const copy = storage.copiedDisks.length > 0;
    try {
      await migrateVirshDomain(name, target.uri, options.live, virsh, {
        copy,
        provenShared: !copy && storage.sharedDisks.length > 0,
      });
    } catch (error) {
      const state = await readVirshState(name, virsh).catch(() => undefined);
      const leftover = await storage.undo();
      let why = error instanceof Error ? error.message : String(error);
      // virsh migrate holds both connections and names only the source: when the source still
      // answers, the one that went away is the destination.
      const lost = /stopped answering during virsh migrate: (.*)$/.exec(why);
      if (error instanceof XenkitError && error.code === 'E_LIBVIRT_LOST' && state !== undefined && lost) {
        why = `host ${target.label} stopped answering (${lost[1]})`;
      }
      const failure = runtimeError(
        'E_MIGRATE',
        `migrating "${name}" to ${target.label} (${target.uri}) failed: ${why}; ${
          state === 'running' || state === 'paused'
            ? `the guest still runs on ${opts.uri}`
            : `its state on ${opts.uri}: ${state ?? 'unknown'}`
        }`,
        lost && state !== undefined
          ? `check that libvirtd runs on ${target.label} (virsh --connect ${target.uri} list), then try again`
          : copy
            ? 'libvirt was copying its disks into volumes made there for it, which were deleted again'
            : 'nothing was moved; the destination must see its disks and kernel (shared storage) or take copies of them',
      );
      if (leftover.length === 0) throw failure;
      throw new XenkitError(failure.code, failure.message, {
        kind: 'runtime',
        hint: failure.hint,
        details: `could not delete:\n${leftover.join('\n')}`,
      });
    } finally {
      await storage.close();
    }
    // libvirt does not carry the autostart flag along: set it where the guest now lives.
    if (autostart) await setVirshAutostart(name, true, dest);
    const job = await readVirshCompletedJob(name, dest).catch(() => ({}) as Record<string, string>);
    return {
      live: options.live,
      downtimeMs: parseJobFigure(job['Total downtime']),
      elapsedMs: parseJobFigure(job['Time elapsed']),
      dataBytes: parseJobFigure(job['Data processed']),
      autostart,
      copiedDisks: storage.copiedDisks,
      uploadedFiles: storage.uploaded,
    };
  };
  const timeoutOf = (o: ShutdownOptions): number => o.timeoutMs ?? opts.shutdownTimeoutMs ?? 120_000;

  return {
    name: 'libvirt',

    async hostInfo(): Promise<HostInfo> {
      const [node, isKvm] = await settleAll([readVirshNodeinfo(virsh), hasKvm()]);
      return {
        driver: 'libvirt',
        accel: isKvm
          ? { kind: 'kvm', reason: `libvirt at ${opts.uri} offers KVM guests` }
          : { kind: 'tcg', reason: `libvirt at ${opts.uri} offers no KVM, only emulated (TCG) guests` },
        hostMemoryMiB: Math.floor(Number.parseInt(node['Memory size'] ?? '0', 10) / 1024),
        hostCpus: Number.parseInt(node['CPU(s)'] ?? '0', 10),
        // libvirt does not report the host's own CPU time.
        hostCpuTimeSec: 0,
        details: { uri: opts.uri, nodeinfo: node },
      };
    },

    list,
    create,

    async console(name, io) {
      await mustRun(name);
      const argv = virshConsoleArgv(name, virsh);
      if (io.isTTY) {
        await runCommand(argv, { inheritStdio: true, env: virsh.env, allowFailure: true });
        return;
      }
      // virsh console refuses to run without a terminal: `script` gives it a pseudo-terminal
      // whose other end is our streams (its -c takes one shell command line: quoted argv).
      const status = await runPiped(['script', '-qfec', argv.map(quoteArg).join(' '), '/dev/null'], {
        input: io.input,
        output: io.output,
        ...(virsh.env ? { env: virsh.env } : {}),
      });
      if (status !== 0 && (await readVirshState(name, virsh)) === 'running') {
        throw runtimeError(
          'E_CONSOLE',
          `guest "${name}": virsh console on ${opts.uri} ended with status ${status}`,
          'another console session may hold it: virsh console --force takes it over',
        );
      }
    },

    async shutdown(name, options) {
      await runVirshVerb('shutdown', name, virsh);
      if (options.wait) await waitForShutoff(name, timeoutOf(options));
    },
    async reboot(name) {
      // libvirt resets the guest in place once it has shut down: same process, same domain ID.
      await runVirshVerb('reboot', name, virsh);
    },
    destroy: (name) => runVirshVerb('destroy', name, virsh),
    pause: (name) => runVirshVerb('suspend', name, virsh),
    unpause: (name) => runVirshVerb('resume', name, virsh),
    setVcpus: (name, count) => setVirshVcpus(name, count, virsh),
    setMemory: (name, bytes) => setVirshMemory(name, Math.floor(bytes / 1024), virsh),
    async schedCredit(name, params) {
      const set = schedToVirsh(params);
      const fields = await virshSchedinfo(name, set, virsh);
      return schedFromVirsh(name, opts.uri, fields);
    },
    async sysrq(name, key) {
      await runVirsh(['send-key', name, 'KEY_LEFTALT', 'KEY_SYSRQ', `KEY_${key.toUpperCase()}`], virsh);
    },
    async save(name, file) {
      refuseExistingSaveFile(file);
      // libvirtd writes the file on its own host: here, since only a local URI gets this far.
      refuseRemote(`saving guest "${name}" to a file`);
      await runVirsh(['save', name, file], virsh);
    },
    async restore(file, restore) {
      refuseRemote(`restoring from ${file}`);
      const name = /<name>([^<]+)<\/name>/.exec(
        (await runVirsh(['save-image-dumpxml', file], virsh)).stdout,
      )?.[1];
      await runVirsh(['restore', file, ...(restore.paused === true ? ['--paused'] : [])], virsh);
      return mustRun(name ?? '');
    },
    migrate,
    autostart: {
      list: () => listVirshAutostart(virsh),
      set: (name, on) => setVirshAutostart(name, on, virsh),
    },
  };
}

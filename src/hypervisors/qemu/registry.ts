/**
 * The runtime registry of QEMU guests: one directory per running guest under
 * `stateDir/qemu/NAME/` holding `domain.json`, the pidfile, sockets and logs; and the
 * domain-ID counter `libDir/next-domid`, bumped under a lock, so IDs are never reused.
 *
 * Reboots and IDs: a reboot from inside the guest (on_reboot=restart) is a reset of the same
 * QEMU process (`-action reboot=reset`), which QEMU logs as a RESET event with guest=true in
 * the guest's event log (see event-log.ts). Reading a record compares the number of such
 * reboots (bursts of resets) with the number already seen and, when there are new ones, takes
 * one fresh ID per reboot from the counter (like Xen, where each reboot is a new domain) and keeps the last.
 * So the ID changes when the registry is next read, not at the instant of the reset; IDs stay
 * unique and increasing. `xm reboot` relaunches QEMU and so takes a new ID directly.
 *
 * Crash safety: the launcher saves a provisional record (pid 0, `launcherPid`) before QEMU
 * starts. Reading a guest whose record has no live QEMU looks for one by the pidfile and by
 * /proc (qemu-processes.ts) and adopts it: the record is completed (or rebuilt from QEMU's argv
 * when it is lost) and a warning says so. So a QEMU whose xm was killed is listed, counted as
 * running, and can be destroyed. A record whose QEMU is gone (and whose launcher is gone) is
 * removed, as is a directory of a guest with neither a record nor a QEMU.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../../errors.js';
import { silentSink, type EventSink } from '../../log/events.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { guestNameProblem } from '../../model/guest-name.js';
import type { Paths } from '../../paths.js';
import { acquireLock } from '../../plan/lock-file.js';
import { isAlive } from '../../plan/process-identity.js';
import type { DeviceTable } from './hotplug-ports.js';
import { releaseBootPages } from './boot-pages.js';
import { activateEventLog, guestReboots, readEventLog } from './event-log.js';
import {
  configFromArgv,
  findQemuProcesses,
  isQemuAlive,
  originDirOf,
  processStartTime,
  qemuGuestName,
  renamedOwner,
  renameMarkerPath,
  qemuFromPidfile,
  type QemuProcess,
} from './qemu-processes.js';
import { ensureRuntimeBase, runtimePathsFor, type RuntimePaths } from './runtime-paths.js';
import { stopUserNets } from './user-net.js';

export { findQemuProcesses, isQemuAlive, type QemuProcess } from './qemu-processes.js';

/** What `domain.json` holds for one running guest. */
export interface DomainRecord {
  id: number;
  name: string;
  /** QEMU's pid; 0 in the provisional record saved before QEMU starts. */
  pid: number;
  /** The xm process starting this guest, while the record is provisional. */
  launcherPid?: number;
  /** When the record was rebuilt for a QEMU found without one (ISO time). */
  adoptedAt?: string;
  cfgPath: string | undefined;
  /** ISO time of the (re)start. */
  startedAt: string;
  argv: string[];
  accel: { kind: 'kvm' | 'tcg'; reason: string };
  /** Taps we attached to bridges (QEMU removes them when it exits). */
  taps: string[];
  /** Guest-initiated resets already turned into IDs. */
  resetsSeen: number;
  /** The config it was started from, for `xm reboot` and the limits of mem-set/vcpu-set. */
  config: DomainConfig;
  kernel: string | undefined;
  initrd: string | undefined;
  /** Its disks and NICs with their QEMU ids, once one was hot-plugged (see hotplug-ports.ts). */
  devices?: DeviceTable;
  /** xl-style scheduler parameters last set, and the cgroup holding the process. */
  sched?: { weight: number; cap: number; cgroup: string };
}

/** The registry over one `Paths` root. */
export interface Registry {
  runtimePaths(name: string): RuntimePaths;
  /** Hands out the next domain ID (from 1, never reused). */
  allocateId(): Promise<number>;
  save(record: DomainRecord): void;
  /** The live record of `name`, after stale-entry cleanup and reset-ID bookkeeping. */
  read(name: string): Promise<DomainRecord | undefined>;
  /** Every live guest, sorted by ID. */
  list(): Promise<DomainRecord[]>;
  /** Removes the runtime directory of `name`. */
  remove(name: string): void;
}

export interface RegistryOptions {
  /** Called for a record whose QEMU is gone, before its directory is removed (cgroup cleanup). */
  onStale?: (record: DomainRecord) => void;
  /** Receives a warning for every QEMU adopted back into the registry. */
  sink?: EventSink;
  /**
   * The QEMU processes found by one /proc scan (findQemuProcesses), for a caller that reads many
   * guests at once (a listing): a guest without a live record is then looked up in it instead of
   * scanning /proc again for each.
   */
  processes?: readonly QemuProcess[];
}

const WHERE = 'QEMU runtime registry';

/** Opens the registry rooted at `paths` (nothing is created until a guest starts). */
export function openRegistry(paths: Paths, options: RegistryOptions = {}): Registry {
  const baseDir = path.join(paths.stateDir, 'qemu');
  const counterFile = path.join(paths.libDir, 'next-domid');
  const lockFile = path.join(paths.lockDir, 'qemu-domid.lock');

  const withLock = async <T>(fn: () => T): Promise<T> => {
    const lock = await acquireLock(lockFile, 'the QEMU domain-ID counter', 10_000);
    try {
      return fn();
    } finally {
      lock.release();
    }
  };

  const takeIds = (count: number): number => {
    mkdirSync(paths.libDir, { recursive: true });
    const text = existsSync(counterFile) ? readFileSync(counterFile, 'utf8').trim() : '1';
    const next = Number.parseInt(text, 10);
    if (!Number.isInteger(next) || next < 1) {
      throw runtimeError(
        'E_DOMID',
        `${counterFile} holds "${text}", not a domain ID`,
        'write the next free ID into it',
      );
    }
    writeAtomic(counterFile, `${next + count}\n`);
    return next + count - 1;
  };

  const sink = options.sink ?? silentSink;
  const rtOf = (name: string): RuntimePaths => runtimePathsFor(paths.stateDir, name, WHERE);

  const save = (record: DomainRecord): void => {
    const rt = rtOf(record.name);
    ensureRuntimeBase(paths.stateDir);
    mkdirSync(rt.dir, { recursive: true, mode: 0o700 });
    writeAtomic(rt.record, JSON.stringify(record, null, 2) + '\n');
  };

  const remove = (name: string): void => {
    const rt = rtOf(name);
    const origin = qemuGuestName(readRecord(rt)?.argv ?? []);
    if (
      origin !== undefined &&
      origin !== name &&
      renamedOwner(paths.stateDir, origin, readRecord(rt)?.pid ?? 0) === name
    )
      rmSync(renameMarkerPath(paths.stateDir, origin), { force: true });
    rmSync(rt.dir, { recursive: true, force: true });
  };

  const readRecord = (rt: RuntimePaths): DomainRecord | undefined => {
    try {
      return JSON.parse(readFileSync(rt.record, 'utf8')) as DomainRecord;
    } catch {
      return undefined;
    }
  };

  /** Completes or rebuilds the record of a QEMU found without a live one, and says so. */
  const adopt = async (name: string, rt: RuntimePaths, qemu: QemuProcess): Promise<DomainRecord> => {
    // Under the counter lock, so two commands adopting at once make one record and one ID.
    const { adopted, previous } = await withLock(() => {
      const current = readRecord(rt);
      if (current?.pid === qemu.pid) return { adopted: current, previous: current };
      const rebuilt: DomainRecord = current
        ? { ...current, pid: qemu.pid, argv: current.argv.length > 0 ? current.argv : qemu.argv }
        : {
            id: takeIds(1),
            name,
            pid: qemu.pid,
            cfgPath: undefined,
            startedAt: processStartTime(qemu.pid).toISOString(),
            argv: qemu.argv,
            accel: {
              kind: qemu.argv.includes('kvm') ? 'kvm' : 'tcg',
              reason: 'read from the command line of an adopted QEMU',
            },
            taps: [],
            resetsSeen: 0,
            config: configFromArgv(name, qemu.argv),
            kernel: undefined,
            initrd: undefined,
          };
      delete rebuilt.launcherPid;
      rebuilt.adoptedAt = new Date().toISOString();
      save(rebuilt);
      return { adopted: rebuilt, previous: current };
    });
    if (previous === adopted) return adopted;
    // The xm that started it may have died before it switched the event log on.
    const events = await readFile(rt.eventsOut, 'utf8').catch(() => '');
    if (existsSync(rt.eventsIn) && !events.includes('"return"')) {
      await activateEventLog(rt, name, 2000).catch(() => undefined);
    }
    const how = qemu.foundBy === 'pidfile' ? `its pidfile ${rt.pidfile}` : 'its command line in /proc';
    const what = previous ? 'an unfinished record' : 'no record';
    sink({
      type: 'warn',
      message:
        `guest "${name}": adopted QEMU pid ${qemu.pid} (ID ${adopted.id}), found by ${how} with ${what}: ` +
        `the command that started it is gone. It may be paused: \`xm unpause ${name}\` runs it, \`xm destroy ${name}\` ends it`,
    });
    return adopted;
  };

  const read = async (name: string): Promise<DomainRecord | undefined> => {
    const rt = rtOf(name);
    const record = readRecord(rt);
    if (record && record.pid > 0 && isQemuAlive(record.pid)) return countReboots(rt, record);
    const qemu =
      qemuFromPidfile(rt, name) ??
      (options.processes
        ? options.processes.find((p) => p.name === name)
        : findQemuProcesses(paths, name)[0]);
    const launching = record?.launcherPid !== undefined && isAlive(record.launcherPid);
    if (qemu && record && launching) {
      // Its xm is still starting it: running already, but the record is that xm's to complete.
      return { ...record, pid: qemu.pid };
    }
    if (qemu) return adopt(name, rt, qemu);
    if (record && !launching) {
      options.onStale?.(record);
      // A passt whose QEMU never came (its launcher was killed in between) waits forever.
      stopUserNets(rt, originDirOf(record.argv));
      remove(name);
    }
    return undefined;
  };

  /**
   * Gives the guest one new ID per reboot it did itself since the last read (see above). The
   * reboot brought its kernel and initrd pages back into QEMU's memory: they are paged out again
   * (boot-pages.ts; the initrd only if the firmware has read it by now).
   */
  const countReboots = async (rt: RuntimePaths, record: DomainRecord): Promise<DomainRecord> => {
    const resets = guestReboots(await readEventLog(rt));
    if (resets.length <= record.resetsSeen) return record;
    let counted = false;
    const current = await withLock(() => {
      // Re-read under the lock: another xenkit process may have done this already.
      const latest = JSON.parse(readFileSync(rt.record, 'utf8')) as DomainRecord;
      if (resets.length <= latest.resetsSeen) return latest;
      latest.id = takeIds(resets.length - latest.resetsSeen);
      latest.resetsSeen = resets.length;
      latest.startedAt = new Date((resets.at(-1)?.timestamp ?? Date.now() / 1000) * 1000).toISOString();
      save(latest);
      counted = true;
      return latest;
    });
    if (counted) await releaseBootPages(current.pid, current, { sink });
    return current;
  };

  return {
    runtimePaths: rtOf,
    allocateId: () => withLock(() => takeIds(1)),
    save,
    read,
    async list() {
      let entries: string[];
      try {
        entries = readdirSync(baseDir);
      } catch {
        entries = [];
      }
      // Only entries that are guest names (nothing else is ours), plus QEMUs whose directory is gone.
      const names = new Set(entries.filter((entry) => guestNameProblem(entry) === undefined));
      for (const qemu of findQemuProcesses(paths)) names.add(qemu.name);
      const records: DomainRecord[] = [];
      for (const name of names) {
        const record = await read(name);
        if (record) records.push(record);
      }
      return records.sort((a, b) => a.id - b.id);
    },
    remove,
  };
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

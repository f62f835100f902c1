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
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import type { Paths } from '../../paths.js';
import { acquireLock } from '../../plan/lock-file.js';
import { guestReboots, readEventLog } from './event-log.js';
import { runtimePathsFor, type RuntimePaths } from './runtime-paths.js';

/** What `domain.json` holds for one running guest. */
export interface DomainRecord {
  id: number;
  name: string;
  pid: number;
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
}

/** Whether `pid` is a live QEMU process (a recycled pid running something else does not count). */
export function isQemuAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // A zombie has exited already; only its parent's wait is missing.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return cmdline.includes('qemu-system') && state !== 'Z';
  } catch {
    return false;
  }
}

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

  const save = (record: DomainRecord): void => {
    const rt = runtimePathsFor(paths.stateDir, record.name);
    mkdirSync(rt.dir, { recursive: true, mode: 0o700 });
    writeAtomic(rt.record, JSON.stringify(record, null, 2) + '\n');
  };

  const remove = (name: string): void => {
    rmSync(runtimePathsFor(paths.stateDir, name).dir, { recursive: true, force: true });
  };

  const read = async (name: string): Promise<DomainRecord | undefined> => {
    const rt = runtimePathsFor(paths.stateDir, name);
    let record: DomainRecord;
    try {
      record = JSON.parse(readFileSync(rt.record, 'utf8')) as DomainRecord;
    } catch {
      return undefined;
    }
    if (!isQemuAlive(record.pid)) {
      options.onStale?.(record);
      remove(name);
      return undefined;
    }
    const resets = guestReboots(await readEventLog(rt));
    if (resets.length > record.resetsSeen) {
      return withLock(() => {
        // Re-read under the lock: another xenkit process may have done this already.
        const current = JSON.parse(readFileSync(rt.record, 'utf8')) as DomainRecord;
        if (resets.length <= current.resetsSeen) return current;
        current.id = takeIds(resets.length - current.resetsSeen);
        current.resetsSeen = resets.length;
        current.startedAt = new Date((resets.at(-1)?.timestamp ?? Date.now() / 1000) * 1000).toISOString();
        save(current);
        return current;
      });
    }
    return record;
  };

  return {
    runtimePaths: (name) => runtimePathsFor(paths.stateDir, name),
    allocateId: () => withLock(() => takeIds(1)),
    save,
    read,
    async list() {
      let names: string[];
      try {
        names = readdirSync(baseDir);
      } catch {
        return [];
      }
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

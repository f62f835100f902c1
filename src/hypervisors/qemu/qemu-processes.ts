/**
 * Finding QEMU processes of ours without a registry record: by a guest's pidfile, or by scanning
 * /proc for a qemu-system process whose `-pidfile` lies in our runtime directory and whose `-name`
 * is that directory's guest. This is how a QEMU whose xm died (SIGKILL, Ctrl-C, a crash between
 * starting QEMU and recording it) is found again, so that nothing holds an image unseen.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultDomainConfig, type DomainConfig } from '../../model/domain-config.js';
import { guestNameProblem } from '../../model/guest-name.js';
import type { Paths } from '../../paths.js';
import type { RuntimePaths } from './runtime-paths.js';

/** A live QEMU process that belongs to one of our guests. */
export interface QemuProcess {
  pid: number;
  /** The guest name (its `-name`, equal to its runtime directory's name). */
  name: string;
  argv: string[];
  /** Where it was found: its pidfile, or the /proc scan. */
  foundBy: 'pidfile' | 'proc';
}

/** The argv of process `pid`, or undefined when it is gone, a zombie, or unreadable. */
export function readProcessArgv(pid: number): string[] | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // A zombie has exited already; only its parent's wait is missing.
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return undefined;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0').slice(0, cmdline.endsWith('\0') ? -1 : undefined);
  } catch {
    return undefined;
  }
}

/**
 * Whether process `pid`'s command line names qemu-system: one read, so that a /proc scan reads
 * the status and argv (readProcessArgv) of QEMU processes only, not of every process.
 */
function isQemuCommandLine(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('qemu-system');
  } catch {
    return false;
  }
}

/** Whether `pid` is a live QEMU process (a recycled pid running something else does not count). */
export function isQemuAlive(pid: number): boolean {
  return readProcessArgv(pid)?.join('\0').includes('qemu-system') ?? false;
}

/** The value following option `flag` in `argv`. */
function optionValue(argv: readonly string[], flag: string): string | undefined {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv[at + 1] : undefined;
}

/** The guest name of a QEMU argv: the first field of `-name` (`NAME,...` or `guest=NAME,...`). */
export function qemuGuestName(argv: readonly string[]): string | undefined {
  const value = optionValue(argv, '-name');
  if (value === undefined) return undefined;
  // QEMU escapes a literal comma as ',,'; the first lone comma ends the field.
  const first = /^((?:[^,]|,,)*)/.exec(value)?.[1]?.replace(/,,/g, ',') ?? '';
  return first.startsWith('guest=') ? first.slice('guest='.length) : first;
}

/** The guest a QEMU argv belongs to when its pidfile is `stateDir/qemu/NAME/qemu.pid` and `-name` is NAME. */
export function ownerOf(argv: readonly string[], stateDir: string): string | undefined {
  if (!path.basename(argv[0] ?? '').startsWith('qemu-system')) return undefined;
  const pidfile = optionValue(argv, '-pidfile');
  if (pidfile === undefined || path.basename(pidfile) !== 'qemu.pid') return undefined;
  const dir = path.dirname(pidfile);
  if (path.dirname(dir) !== path.join(stateDir, 'qemu')) return undefined;
  const name = path.basename(dir);
  if (guestNameProblem(name) !== undefined || qemuGuestName(argv) !== name) return undefined;
  return name;
}

/** The QEMU named by the pidfile in `rt`, when it lives and its argv names that very pidfile. */
export function qemuFromPidfile(rt: RuntimePaths, name: string): QemuProcess | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(rt.pidfile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  const argv = readProcessArgv(pid);
  if (!argv || optionValue(argv, '-pidfile') !== rt.pidfile || qemuGuestName(argv) !== name) return undefined;
  return { pid, name, argv, foundBy: 'pidfile' };
}

/**
 * A renamed running guest (`xm rename`): its QEMU keeps the `-name` and `-pidfile` it started
 * with, so `stateDir/qemu/.renamed-ORIGIN` (not a guest name, so never a guest's directory)
 * says which guest QEMU `pid` of ORIGIN now is: `NEW PID`.
 */
export function renameMarkerPath(stateDir: string, origin: string): string {
  return path.join(stateDir, 'qemu', `.renamed-${origin}`);
}

/** The guest a QEMU of `origin` with `pid` has been renamed to, if it has. */
export function renamedOwner(stateDir: string, origin: string, pid: number): string | undefined {
  try {
    const [name, markerPid] = readFileSync(renameMarkerPath(stateDir, origin), 'utf8').trim().split(' ');
    return Number(markerPid) === pid && name !== undefined && guestNameProblem(name) === undefined
      ? name
      : undefined;
  } catch {
    return undefined;
  }
}

/** The runtime directory a QEMU argv was started with (its `-pidfile`'s), whatever it is called now. */
export function originDirOf(argv: readonly string[]): string | undefined {
  const pidfile = optionValue(argv, '-pidfile');
  return pidfile === undefined ? undefined : path.dirname(pidfile);
}

/**
 * Every live QEMU process of a guest under `paths` (only guest `name` when given), found by
 * scanning /proc: a qemu-system argv whose `-pidfile` is in our runtime directory and whose
 * `-name` is that directory's guest (or the guest it was renamed to). Sorted by pid.
 */
export function findQemuProcesses(paths: Paths, name?: string): QemuProcess[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const found: QemuProcess[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid || !isQemuCommandLine(pid)) continue;
    const argv = readProcessArgv(pid);
    if (!argv) continue;
    const origin = ownerOf(argv, paths.stateDir);
    const owner = origin === undefined ? undefined : (renamedOwner(paths.stateDir, origin, pid) ?? origin);
    if (owner !== undefined && (name === undefined || owner === name)) {
      found.push({ pid, name: owner, argv, foundBy: 'proc' });
    }
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/**
 * A DomainConfig rebuilt from a QEMU argv, for a guest whose record is lost: memory (`-m`, the
 * maxmem; the balloon is read live), vCPUs (`-smp`) and the kernel. Disks and NICs are not
 * needed to list, console, pause or destroy it; `xm reboot` of such a guest needs its cfg.
 */
export function configFromArgv(name: string, argv: readonly string[]): DomainConfig {
  const mem = Number.parseInt(optionValue(argv, '-m') ?? '', 10);
  const smp = optionValue(argv, '-smp') ?? '';
  const vcpus = Number.parseInt(smp, 10);
  const maxvcpus = Number.parseInt(/maxcpus=(\d+)/.exec(smp)?.[1] ?? '', 10);
  const memory = Number.isInteger(mem) && mem > 0 ? mem : 0;
  const cpus = Number.isInteger(vcpus) && vcpus > 0 ? vcpus : 1;
  return defaultDomainConfig(name, {
    type: argv.includes('-kernel') ? 'pv' : 'hvm',
    memory,
    maxmem: memory,
    vcpus: cpus,
    maxvcpus: Number.isInteger(maxvcpus) && maxvcpus >= cpus ? maxvcpus : cpus,
    kernel: optionValue(argv, '-kernel'),
    ramdisk: optionValue(argv, '-initrd'),
    cmdline: optionValue(argv, '-append'),
    onCrash: 'restart',
  });
}

/** When process `pid` started, from /proc (now when that cannot be read). */
export function processStartTime(pid: number): Date {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Field 22 (starttime) in clock ticks since boot; field index 19 after the comm.
    const ticks = Number(fields[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1]);
    // USER_HZ is 100 on every Linux architecture xenkit runs on.
    if (Number.isFinite(ticks) && Number.isFinite(btime)) return new Date((btime + ticks / 100) * 1000);
  } catch {
    // gone: fall through
  }
  return new Date();
}

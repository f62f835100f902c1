/**
 * xl's credit scheduler parameters on a QEMU guest, through the cgroup holding its process:
 * `xenkit/NAME`. cgroup v2 (`cpu.weight`, `cpu.max`) when the unified hierarchy has the cpu
 * controller; otherwise the v1 cpu controller (`cpu.shares`, `cpu.cfs_quota_us`), which is what
 * hybrid hosts (systemd's default on older setups, this project's CI) offer.
 * xl weight 256 (its default) is cgroup v2's 100 and v1's 1024; cap is percent of one CPU, 0 = none.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeError, usageError } from '../../errors.js';

/** xl's defaults: weight 256, no cap. */
export const DEFAULT_SCHED = { weight: 256, cap: 0 } as const;

const PERIOD_US = 100_000;

/** Which cgroup interface holds the cpu controller, and where. */
export interface CpuCgroupRoot {
  version: 1 | 2;
  /** The hierarchy's mount point (`/sys/fs/cgroup` for v2, `/sys/fs/cgroup/cpu` for v1). */
  dir: string;
}

/** cgroup v2 cpu.weight for an xl weight: weight*100/256, clamped to 1..10000. */
export function weightToCpuWeight(weight: number): number {
  return Math.min(10_000, Math.max(1, Math.round((weight * 100) / 256)));
}

/** cgroup v1 cpu.shares for an xl weight: weight*4 (256 -> 1024), at least 2 as the kernel wants. */
export function weightToCpuShares(weight: number): number {
  return Math.max(2, Math.round(weight * 4));
}

/** The quota in µs per 100 ms period for an xl cap (percent of one CPU), or undefined for none. */
export function capToQuotaUs(cap: number): number | undefined {
  return cap <= 0 ? undefined : Math.round((cap * PERIOD_US) / 100);
}

/** Finds a cgroup hierarchy with the cpu controller under `sysCgroup`, or undefined. */
export function findCpuCgroup(sysCgroup = '/sys/fs/cgroup'): CpuCgroupRoot | undefined {
  for (const dir of [sysCgroup, path.join(sysCgroup, 'unified')]) {
    const controllers = readOr(path.join(dir, 'cgroup.controllers'));
    if (controllers !== undefined && controllers.split(/\s+/).includes('cpu')) return { version: 2, dir };
  }
  for (const dir of [path.join(sysCgroup, 'cpu'), path.join(sysCgroup, 'cpu,cpuacct')]) {
    if (existsSync(path.join(dir, 'cpu.shares'))) return { version: 1, dir };
  }
  return undefined;
}

/** Checks xl's ranges: weight 1..65535, cap 0..(100 x CPUs). */
export function checkSched(guest: string, weight: number, cap: number): void {
  if (!Number.isInteger(weight) || weight < 1 || weight > 65_535) {
    throw usageError(
      'E_SCHED',
      `guest "${guest}": weight ${weight} is outside 1..65535`,
      'xl weights are 1..65535, 256 by default',
    );
  }
  if (!Number.isInteger(cap) || cap < 0) {
    throw usageError(
      'E_SCHED',
      `guest "${guest}": cap ${cap} is not a percentage`,
      'cap is percent of one CPU, 0 for none',
    );
  }
}

/**
 * Puts `pid` (every thread of it) into `xenkit/NAME` and applies weight and cap there.
 * Returns the cgroup directory.
 */
export function applySched(
  root: CpuCgroupRoot | undefined,
  guest: string,
  pid: number,
  weight: number,
  cap: number,
): string {
  checkSched(guest, weight, cap);
  if (!root) {
    throw runtimeError(
      'E_CGROUP',
      `guest "${guest}": no cgroup hierarchy with the cpu controller under /sys/fs/cgroup`,
      'mount cgroup v2 (or the v1 cpu controller) read-write to set weight and cap',
    );
  }
  const parent = path.join(root.dir, 'xenkit');
  const dir = path.join(parent, guest);
  try {
    if (root.version === 2) {
      // v2's no-internal-process rule: controllers are enabled on the way down, processes live in leaves.
      enableCpu(root.dir);
      mkdirSync(parent, { recursive: true });
      enableCpu(parent);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'cgroup.procs'), `${pid}\n`);
      writeFileSync(path.join(dir, 'cpu.weight'), `${weightToCpuWeight(weight)}\n`);
      const quota = capToQuotaUs(cap);
      writeFileSync(path.join(dir, 'cpu.max'), `${quota ?? 'max'} ${PERIOD_US}\n`);
    } else {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'cgroup.procs'), `${pid}\n`);
      writeFileSync(path.join(dir, 'cpu.shares'), `${weightToCpuShares(weight)}\n`);
      writeFileSync(path.join(dir, 'cpu.cfs_period_us'), `${PERIOD_US}\n`);
      writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), `${capToQuotaUs(cap) ?? -1}\n`);
    }
  } catch (cause) {
    throw runtimeError(
      'E_CGROUP',
      `guest "${guest}": cannot set weight/cap in cgroup ${dir}: ${(cause as Error).message}`,
      'the cgroup filesystem must be writable (run as root, not in a read-only container)',
      cause,
    );
  }
  return dir;
}

/** Removes the guest's cgroup once its process is gone (an empty cgroup is removed with rmdir). */
export function removeSchedCgroup(dir: string | undefined): void {
  if (!dir) return;
  try {
    rmdirSync(dir);
  } catch {
    // Still populated, or already gone: nothing to do.
  }
}

function enableCpu(dir: string): void {
  const current = readOr(path.join(dir, 'cgroup.subtree_control')) ?? '';
  if (!current.split(/\s+/).includes('cpu'))
    writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+cpu\n');
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** CPU time and memory figures from /proc: a guest's vCPU threads, and the host (Domain-0's row). */
import os from 'node:os';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Linux reports /proc times in USER_HZ ticks, 100 per second on every architecture we run on. */
const USER_HZ = 100;

/** utime + stime, in seconds, of one /proc/.../stat line. */
export function parseStatCpuSeconds(stat: string): number {
  // The command name (field 2) may contain spaces and parentheses; fields restart after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11] ?? 0);
  const stime = Number(fields[12] ?? 0);
  return (utime + stime) / USER_HZ;
}

/**
 * CPU seconds of a guest: the sum over its vCPU threads (what xl's Time column counts), or the
 * whole QEMU process when no thread IDs are known (then emulation and I/O threads count too).
 */
export async function readGuestCpuSeconds(
  pid: number,
  vcpuThreads: readonly number[],
  procRoot = '/proc',
): Promise<number> {
  if (vcpuThreads.length === 0) {
    return parseStatCpuSeconds(await readFile(path.join(procRoot, String(pid), 'stat'), 'utf8'));
  }
  let total = 0;
  for (const tid of vcpuThreads) {
    try {
      total += parseStatCpuSeconds(
        await readFile(path.join(procRoot, String(pid), 'task', String(tid), 'stat'), 'utf8'),
      );
    } catch {
      // An unplugged vCPU's thread can vanish between the QMP answer and this read.
    }
  }
  return total;
}

/** The host figures of Domain-0's row. */
export interface HostStats {
  memoryMiB: number;
  cpus: number;
  /** CPU seconds the host has spent busy (everything but idle and iowait) since boot. */
  cpuSeconds: number;
}

/** MemTotal of /proc/meminfo text, in MiB. */
export function parseMemTotalMiB(meminfo: string): number {
  const match = /^MemTotal:\s+(\d+) kB/m.exec(meminfo);
  return match ? Math.floor(Number(match[1]) / 1024) : 0;
}

/** Busy CPU seconds from the `cpu` line of /proc/stat (user nice system irq softirq steal). */
export function parseBusyCpuSeconds(procStat: string): number {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / USER_HZ;
}

/** Reads the host's memory, CPU count and busy CPU time. */
export async function readHostStats(procRoot = '/proc'): Promise<HostStats> {
  const [meminfo, stat] = await Promise.all([
    readFile(path.join(procRoot, 'meminfo'), 'utf8'),
    readFile(path.join(procRoot, 'stat'), 'utf8'),
  ]);
  return {
    memoryMiB: parseMemTotalMiB(meminfo),
    cpus: os.availableParallelism(),
    cpuSeconds: parseBusyCpuSeconds(stat),
  };
}

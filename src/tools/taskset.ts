/**
 * Typed wrapper around util-linux `taskset`: CPU lists (`0-1,3`) parsed and checked against the
 * host, and the affinity of one thread set with `taskset -p -c LIST TID` (sched_setaffinity).
 */
import { usageError } from '../errors.js';
import { runCommand } from './exec.js';

/**
 * The CPUs of a list like `0-2,5` or `all`, sorted; refuses CPUs the host does not have, as
 * xl vcpu-pin does. `what` names the argument in errors.
 */
export function parseCpuList(text: string, hostCpus: number, what = 'CPU list'): number[] {
  if (text === 'all') return Array.from({ length: hostCpus }, (_, cpu) => cpu);
  const cpus = new Set<number>();
  for (const piece of text.split(',')) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(piece.trim());
    const from = Number(range?.[1]);
    const to = range?.[2] === undefined ? from : Number(range[2]);
    if (!range || to < from) {
      throw usageError('E_ARG', `${what} "${text}" is not a CPU list`, 'e.g. 0, 0-1, 0,2-3 or all');
    }
    for (let cpu = from; cpu <= to; cpu++) {
      if (cpu >= hostCpus) {
        throw usageError(
          'E_ARG',
          `${what} "${text}" names CPU ${cpu}, and the host has CPUs 0-${hostCpus - 1}`,
          'see the host CPUs with: nproc',
        );
      }
      cpus.add(cpu);
    }
  }
  return [...cpus].sort((a, b) => a - b);
}

/** A sorted CPU set written as ranges (`0-1,3`), or `all` when it is every host CPU. */
export function formatCpuList(cpus: readonly number[], hostCpus: number): string {
  if (hostCpus > 0 && cpus.length === hostCpus && cpus.every((cpu, i) => cpu === i)) return 'all';
  const parts: string[] = [];
  for (let i = 0; i < cpus.length;) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === (cpus[j] as number) + 1) j++;
    parts.push(i === j ? String(cpus[i]) : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Sets the CPU affinity of thread (or process) `tid` to `cpus`. */
export async function pinThread(tid: number, cpus: readonly number[]): Promise<void> {
  await runCommand(['taskset', '-p', '-c', cpus.join(','), String(tid)]);
}

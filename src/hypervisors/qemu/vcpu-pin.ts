/**
 * vcpu-list and vcpu-pin for QEMU: each vCPU runs on a host thread named by query-cpus-fast, its
 * own under KVM and multi-threaded TCG, one shared by all under single-threaded TCG (a guest that
 * can gain vCPUs, see argv.ts' tcgThreading): there one vCPU cannot be pinned apart from the others. Its state, host CPU and time come from /proc/PID/task/TID/stat, its
 * affinity from `Cpus_allowed_list`; pinning sets that thread's affinity with taskset
 * (sched_setaffinity), which lasts as long as the thread: a restarted guest or a vCPU added by
 * vcpu-set starts unpinned, as under Xen.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { usageError } from '../../errors.js';
import { formatCpuList, parseCpuList, pinThread } from '../../tools/taskset.js';
import type { VcpuInfo } from '../driver.js';
import { parseStatCpuSeconds } from './proc-stats.js';
import type { QmpClient } from './qmp-client.js';

/** One entry of query-cpus-fast. */
export interface QmpCpu {
  'cpu-index': number;
  'thread-id': number;
}

/** The vCPU threads of a guest, by vCPU number. */
export async function queryVcpuThreads(qmp: QmpClient): Promise<QmpCpu[]> {
  const cpus = await qmp.execute<QmpCpu[]>('query-cpus-fast');
  return [...cpus].sort((a, b) => a['cpu-index'] - b['cpu-index']);
}

/** A VcpuInfo from a thread's /proc stat and status texts. */
export function vcpuFromProc(vcpu: number, stat: string, status: string, hostCpus: number): VcpuInfo {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0] ?? '';
  // Field 39 (processor), counted from 1 with pid and comm before the state.
  const cpu = Number(fields[36]);
  const allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '';
  const cpus = allowed === '' ? [] : parseCpuList(allowed, Number.MAX_SAFE_INTEGER, 'Cpus_allowed_list');
  return {
    vcpu,
    cpu: Number.isInteger(cpu) ? cpu : undefined,
    running: state === 'R',
    blocked: state !== 'R',
    online: true,
    timeSec: parseStatCpuSeconds(stat),
    affinity: formatCpuList(cpus, hostCpus),
  };
}

/** The vCPUs of QEMU `pid`, read from /proc. */
export async function listVcpus(
  qmp: QmpClient,
  pid: number,
  hostCpus: number,
  procRoot = '/proc',
): Promise<VcpuInfo[]> {
  const threads = await queryVcpuThreads(qmp);
  return Promise.all(
    threads.map(async (t) => {
      const dir = path.join(procRoot, String(pid), 'task', String(t['thread-id']));
      const [stat, status] = await Promise.all([
        readFile(path.join(dir, 'stat'), 'utf8'),
        readFile(path.join(dir, 'status'), 'utf8'),
      ]);
      return vcpuFromProc(t['cpu-index'], stat, status, hostCpus);
    }),
  );
}

/** Pins vCPU `vcpu` (or all) of the guest to `cpus`; returns the threads pinned. */
export async function pinVcpus(
  qmp: QmpClient,
  guest: string,
  vcpu: number | 'all',
  cpus: string,
  hostCpus: number,
): Promise<number[]> {
  const set = parseCpuList(cpus, hostCpus, `domain "${guest}": CPU list`);
  const threads = await queryVcpuThreads(qmp);
  const chosen = vcpu === 'all' ? threads : threads.filter((t) => t['cpu-index'] === vcpu);
  if (chosen.length === 0) {
    throw usageError(
      'E_VCPUS',
      `domain "${guest}" has no vCPU ${vcpu} (it has ${threads.map((t) => t['cpu-index']).join(', ')})`,
      `see them with: xm vcpu-list ${guest}`,
    );
  }
  const chosenThreads = new Set(chosen.map((t) => t['thread-id']));
  const sharing = threads.filter((t) => chosenThreads.has(t['thread-id']) && !chosen.includes(t));
  if (sharing.length > 0) {
    throw usageError(
      'E_VCPUS',
      `domain "${guest}": vCPU ${vcpu} shares its host thread with vCPU ${sharing.map((t) => t['cpu-index']).join(', ')} (single-threaded TCG, as for every guest whose maxvcpus is above its vcpus), so it cannot be pinned alone`,
      `pin them together with: xm vcpu-pin ${guest} all ${cpus}`,
    );
  }
  for (const t of chosenThreads) await pinThread(t, set);
  return [...chosenThreads];
}

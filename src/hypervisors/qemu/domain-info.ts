/** A running QEMU guest as xm shows it: state letters, memory, vCPUs and CPU time, read over QMP. */
import type { DomainInfo, DomainState } from '../driver.js';
import { withQmp, type QmpClient } from './qmp-client.js';
import { readGuestCpuSeconds } from './proc-stats.js';
import type { DomainRecord } from './registry.js';
import type { RuntimePaths } from './runtime-paths.js';

const MiB = 1024 * 1024;

/** xl's state letters for QEMU's run states (query-status `status`). */
export function stateFromRunState(status: string | undefined): DomainState {
  const state: DomainState = {
    running: false,
    blocked: false,
    paused: false,
    shutdown: false,
    crashed: false,
    dying: false,
  };
  switch (status) {
    case 'running':
      state.running = true;
      break;
    case 'shutdown':
      state.shutdown = true;
      break;
    case 'guest-panicked':
    case 'internal-error':
    case 'io-error':
      state.crashed = true;
      break;
    case undefined:
      // QMP did not answer: QEMU is going away or hung.
      state.dying = true;
      break;
    default:
      // paused, prelaunch (created with -p), suspended, debug, migration states.
      state.paused = true;
  }
  return state;
}

/** What one QMP round trip tells about a guest. */
export interface GuestSnapshot {
  status: string | undefined;
  balloonBytes: number | undefined;
  vcpuThreads: number[];
}

/** Asks QEMU for run state, balloon size and vCPU threads in one session. */
export async function snapshotGuest(qmp: QmpClient): Promise<GuestSnapshot> {
  const status = await qmp.execute<{ status: string }>('query-status');
  const cpus = await qmp.execute<{ 'thread-id': number }[]>('query-cpus-fast');
  let balloonBytes: number | undefined;
  try {
    balloonBytes = (await qmp.execute<{ actual: number }>('query-balloon')).actual;
  } catch {
    // No balloon driver in the guest (yet): the configured memory stands.
  }
  return { status: status.status, balloonBytes, vcpuThreads: cpus.map((c) => c['thread-id']) };
}

/** The DomainInfo of a registry record, with live figures when QMP answers within `timeoutMs`. */
export async function describeDomain(
  record: DomainRecord,
  rt: RuntimePaths,
  timeoutMs = 3000,
): Promise<DomainInfo> {
  let snapshot: GuestSnapshot = { status: undefined, balloonBytes: undefined, vcpuThreads: [] };
  try {
    snapshot = await withQmp(rt.qmpSocket, { guest: record.name, timeoutMs }, snapshotGuest);
  } catch {
    // Shown as dying ('d') with the recorded figures.
  }
  let cpuTimeSec = 0;
  try {
    cpuTimeSec = await readGuestCpuSeconds(record.pid, snapshot.vcpuThreads);
  } catch {
    // The process just went away.
  }
  return {
    name: record.name,
    id: record.id,
    memoryMiB:
      snapshot.balloonBytes !== undefined ? Math.round(snapshot.balloonBytes / MiB) : record.config.memory,
    maxMemoryMiB: record.config.maxmem,
    vcpus: snapshot.vcpuThreads.length > 0 ? snapshot.vcpuThreads.length : record.config.vcpus,
    maxVcpus: record.config.maxvcpus,
    state: stateFromRunState(snapshot.status),
    cpuTimeSec,
    startedAt: new Date(record.startedAt),
    cfgPath: record.cfgPath,
    details: {
      pid: record.pid,
      runState: snapshot.status ?? 'unknown',
      accel: record.accel,
      qmpSocket: rt.qmpSocket,
      consoleSocket: rt.consoleSocket,
      consoleLog: rt.consoleLog,
      kernel: record.kernel,
      initrd: record.initrd,
      taps: record.taps,
      argv: record.argv,
    },
  };
}

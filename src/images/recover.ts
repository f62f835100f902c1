/**
 * Crash recovery with the real tools: the handlers that unmount, detach loop devices, release and
 * remove trees and volumes for src/plan/recover-journal.ts, the journal options every
 * guest-changing command runs with, and what `xenkit doctor` finds: dead runs' journals and
 * temporary directories no journal names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { releaseIp } from '../config/ips-file.js';
import { removeTree } from '../install/remove-tree.js';
import { releaseTarget } from '../install/target-guard.js';
import type { EventSink } from '../log/events.js';
import type { Paths } from '../paths.js';
import type { JournalOptions } from '../plan/executor.js';
import type { StepContext } from '../plan/plan.js';
import { isSameProcessAlive, parseProcStat } from '../plan/process-identity.js';
import {
  deadJournals,
  recoverJournals,
  type DebrisHandlers,
  type RecoveryReport,
} from '../plan/recover-journal.js';
import { activeJournal, listJournals } from '../plan/run-journal.js';
import { isImmutable, setImmutable } from '../tools/chattr.js';
import { detachLoopDevice, listLoops } from '../tools/losetup.js';
import { listVolumes, removeVolume, renameVolume } from '../tools/lvm.js';
import { readVirshState, undefineVirshDomain } from '../tools/virsh.js';
import { deleteVirshVolume, readVirshVolume } from '../tools/virsh-storage.js';
import { isMounted, unmountDir } from '../tools/mount.js';
import { restoreGuestFiles } from './guest-file-restore.js';

/** Where run journals live (persistent: a killed run's files outlive a reboot). */
export function runsDir(paths: Paths): string {
  return path.join(paths.libDir, 'runs');
}

/** Where runs keep their private temporary directories. */
export function runTempRoot(paths: Paths): string {
  return path.join(paths.libDir, 'tmp');
}

/** losetup shows the backing file of an unlinked image with this suffix. */
function backingPath(file: string | undefined): string | undefined {
  return file?.replace(/ \(deleted\)$/, '');
}

/** The handlers that undo mounts, loop devices, trees, volumes, claims and guest files of dead runs. */
export function debrisHandlers(paths: Paths, sink?: EventSink): DebrisHandlers {
  const detachUnder = async (dir: string): Promise<void> => {
    for (const loop of await listLoops({ sink })) {
      const file = backingPath(loop.backingFile);
      if (file?.startsWith(`${dir}/`)) await detachLoopDevice(loop.device, sink);
    }
  };
  return {
    unmount: async (dir) => {
      if (!(await isMounted(dir))) return undefined;
      await unmountDir(dir, sink);
      return `unmounted ${dir}`;
    },
    detachLoop: async (backingFile, device, existing = []) => {
      // A loop on a FUSE export whose daemon stopped (it dies with its run) shows its backing
      // file as `/`, unmounted lazily; the device the run recorded is still that loop.
      const isBacking = (file: string | undefined): boolean =>
        backingPath(file) === backingFile || (device !== undefined && file === '/');
      const loops = (await listLoops({ sink })).filter(
        (l) =>
          isBacking(l.backingFile) &&
          (device === undefined ? !existing.includes(l.device) : l.device === device),
      );
      for (const loop of loops) await detachLoopDevice(loop.device, sink);
      return loops.length > 0 ? `detached ${loops.map((l) => l.device).join(', ')}` : undefined;
    },
    removeTree: async (dir) => {
      await releaseTarget(dir, sink);
      if (await isMounted(dir)) await unmountDir(dir, sink);
      await detachUnder(dir);
      await removeTree(dir, { sink });
      return `removed ${dir}`;
    },
    clearImmutable: async (file) => {
      if (!(await isImmutable(file, { sink }))) return undefined;
      await setImmutable(file, false, { sink });
      return `cleared the immutable flag of ${file}`;
    },
    renameVolume: async (vg, from, to) => {
      const names = new Set((await listVolumes(vg, { sink }).catch(() => [])).map((v) => v.name));
      if (!names.has(from) || names.has(to)) return undefined;
      await renameVolume(vg, from, to, { sink });
      return `renamed logical volume ${vg}/${from} back to ${to}`;
    },
    removeVolume: async (vg, name) => {
      const volumes = await listVolumes(vg, { sink }).catch(() => []);
      if (!volumes.some((v) => v.name === name)) return undefined;
      await removeVolume(vg, name, { sink });
      return `removed logical volume ${vg}/${name}`;
    },
    removeLibvirtVolume: async (uri, pool, name) => {
      const virsh = { uri, sink };
      if (!(await readVirshVolume(pool, name, virsh))) return undefined;
      await deleteVirshVolume(pool, name, virsh);
      return `deleted volume ${name} of pool ${pool} on ${uri}`;
    },
    undefineLibvirtDomain: async (uri, name) => {
      const virsh = { uri, sink };
      // A domain that runs was started since: someone uses it now.
      if ((await readVirshState(name, virsh)) !== 'shut off') return undefined;
      await undefineVirshDomain(name, virsh);
      return `undefined domain ${name} on ${uri}`;
    },
    releaseAddress: async (address, name) =>
      (await releaseIp(paths, address, name)) ? `gave back the address ${address} of ${name}` : undefined,
    restoreGuestFiles: (debris) => restoreGuestFiles(debris, sink),
  };
}

/** One line for a recovery: `cleaned up after an interrupted run (pid N, create-image web1): ...`. */
export function describeRecovery(report: RecoveryReport): string {
  return `cleaned up after an interrupted run (pid ${report.pid}, ${report.command}): ${report.cleaned.join('; ') || 'nothing was left'}`;
}

/**
 * Cleans up what dead runs left of guest `name` (the caller holds its lock): each journal that
 * names it and whose run is gone is undone and removed. Says what it cleaned through the sink and
 * the reporter.
 */
export async function recoverGuest(
  paths: Paths,
  name: string,
  ctx: Pick<StepContext, 'sink' | 'reporter'>,
): Promise<RecoveryReport[]> {
  const reports = await recoverJournals(runsDir(paths), debrisHandlers(paths, ctx.sink), {
    guest: name,
    exclude: activeJournal()?.file,
  });
  for (const report of reports) {
    for (const line of report.cleaned)
      ctx.sink({ type: 'info', message: `recovery (pid ${report.pid}): ${line}` });
    ctx.reporter.info(describeRecovery(report));
    for (const line of report.left) {
      ctx.sink({ type: 'warn', message: `recovery (pid ${report.pid}): ${line}` });
      ctx.reporter.warn(`could not clean up after pid ${report.pid}: ${line}`);
    }
  }
  return reports;
}

/**
 * Cleans up after every dead run, whichever guest it was for: what guest-changing commands do
 * before they plan, so that a killed run's cfg or partial image is gone before anything checks for
 * it. Says each cleaned run in one line through `say`; returns what it did.
 */
export async function recoverDeadRuns(
  paths: Paths,
  say: (line: string) => void,
  sink?: EventSink,
): Promise<RecoveryReport[]> {
  const reports = await recoverJournals(runsDir(paths), debrisHandlers(paths, sink), {
    exclude: activeJournal()?.file,
  });
  for (const report of reports) {
    say(describeRecovery(report));
    for (const line of report.left) say(`could not clean up after pid ${report.pid}: ${line}`);
  }
  return reports;
}

/** The journal options of a guest-changing command (`command`: e.g. `create-image web1`). */
export function runJournalOptions(paths: Paths, command: string): JournalOptions {
  return {
    dir: runsDir(paths),
    tmpRoot: runTempRoot(paths),
    command,
    recover: async (guest, ctx) => {
      await recoverGuest(paths, guest, ctx);
    },
  };
}

/** A run temporary directory whose run is gone and that no journal names. */
export interface OrphanTemp {
  path: string;
  pid: number;
}

/** Temporary directories (`libDir/tmp/PID-STARTTIME`) of dead runs that no journal names. */
export function findOrphanTemps(paths: Paths): OrphanTemp[] {
  const root = runTempRoot(paths);
  const named = new Set(
    listJournals(runsDir(paths)).flatMap((j) =>
      j.data.records.flatMap((r) => (r.debris.kind === 'tree' ? [r.debris.path] : [])),
    ),
  );
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return [];
  }
  const orphans: OrphanTemp[] = [];
  for (const name of names) {
    const match = /^(\d+)-(\d+)$/.exec(name);
    const dir = path.join(root, name);
    if (!match || named.has(dir)) continue;
    const pid = Number(match[1]);
    if (isRunAlive(pid, Number(match[2]))) continue;
    orphans.push({ path: dir, pid });
  }
  return orphans;
}

function isRunAlive(pid: number, startTime: number): boolean {
  try {
    const stat = parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return stat?.startTime === startTime;
  } catch {
    return false;
  }
}

/** What `xenkit doctor` found and (unless a dry run) cleaned. */
export interface DoctorReport {
  dryRun: boolean;
  runs: RecoveryReport[];
  temporaries: { path: string; pid: number; outcome: string }[];
  /** Journals of runs still going: left alone. */
  live: { pid: number; command: string; guests: string[] }[];
}

/** Cleans up after every dead run (all guests): journals first, then orphaned temporaries. */
export async function runDoctor(
  paths: Paths,
  options: { dryRun: boolean; sink?: EventSink },
): Promise<DoctorReport> {
  const handlers = debrisHandlers(paths, options.sink);
  const dead = new Set(deadJournals(runsDir(paths)).map((j) => j.file));
  const live = listJournals(runsDir(paths))
    .filter((j) => !dead.has(j.file) && isSameProcessAlive(j.data.holder))
    .map((j) => ({ pid: j.data.holder.pid, command: j.data.command, guests: j.data.guests }));
  const runs = await recoverJournals(runsDir(paths), handlers, { dryRun: options.dryRun });
  const temporaries: DoctorReport['temporaries'] = [];
  for (const orphan of findOrphanTemps(paths)) {
    if (options.dryRun) {
      temporaries.push({ ...orphan, outcome: `would remove ${orphan.path}` });
      continue;
    }
    try {
      temporaries.push({ ...orphan, outcome: (await handlers.removeTree(orphan.path)) ?? 'gone' });
    } catch (error) {
      temporaries.push({
        ...orphan,
        outcome: `left: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }
  return { dryRun: options.dryRun, runs, temporaries, live };
}

/** Whether a doctor report found nothing to clean. */
export function isDoctorClean(report: DoctorReport): boolean {
  return (
    report.runs.every((r) => r.cleaned.length === 0 && r.left.length === 0) && report.temporaries.length === 0
  );
}

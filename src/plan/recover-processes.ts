/**
 * The processes of a dead run: stopping one (and its descendants), finding a recorded daemon by
 * its pidfile, and the strays its children left before the journal named them (runMarkerEnv).
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { argv0Of, descendantsOf, isAlive, isSameProcessAlive, processesWithEnv } from './process-identity.js';
import { RUN_MARKER_VARIABLE, type FoundJournal } from './run-journal.js';

/**
 * Stops the processes marked with the run's id (runMarkerEnv) that its journal does not name:
 * neither a recorded process or daemon nor one of their descendants, which their records stop in
 * their turn. A stray's own descendants go with it.
 */
export async function stopStrays(
  found: FoundJournal,
  report: { cleaned: string[]; left: string[] },
  dryRun: boolean,
): Promise<void> {
  const marked = processesWithEnv(RUN_MARKER_VARIABLE, path.basename(found.file, '.json'));
  if (marked.length === 0) return;
  const recorded = found.data.records.flatMap((r): number[] => {
    const d = r.debris;
    if (d.kind === 'process') return isSameProcessAlive(d) ? [d.pid] : [];
    if (d.kind === 'daemon') return [daemonPid(d.pidFile, d.argv0) ?? d.process?.pid ?? -1];
    return [];
  });
  const covered = new Set([...recorded, ...recorded.flatMap(descendantsOf)]);
  const strays = marked.filter((pid) => !covered.has(pid));
  const below = new Set(strays.flatMap(descendantsOf));
  for (const pid of strays.filter((p) => !below.has(p))) {
    const name = argv0Of(pid) ?? 'a process';
    if (dryRun) {
      report.cleaned.push(`would stop ${name} (pid ${pid}), started by the run but not yet in its journal`);
      continue;
    }
    try {
      await stopProcess(pid);
      report.cleaned.push(`stopped ${name} (pid ${pid}), started by the run but not yet in its journal`);
    } catch (error) {
      report.left.push(
        `stop ${name} (pid ${pid}): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

/** The pid in `pidFile` if that process runs `argv0` with `pidFile` on its command line. */
export function daemonPid(pidFile: string, argv0: string): number | undefined {
  let pid: number;
  let cmdline: string[];
  try {
    pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8'), 10);
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  const isIt = path.basename(cmdline[0] ?? '') === argv0 && cmdline.includes(pidFile);
  return Number.isInteger(pid) && pid > 0 && isIt ? pid : undefined;
}

/** SIGTERM to the process and its descendants, SIGKILL to what is left after 5 s; waits until gone. */
export async function stopProcess(pid: number): Promise<void> {
  const targets = [pid, ...descendantsOf(pid)];
  const signalAll = (signal: NodeJS.Signals): void => {
    for (const pid of targets) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  const alive = (): boolean => targets.some(isAlive);
  signalAll('SIGTERM');
  const started = Date.now();
  while (alive()) {
    if (Date.now() - started > 5000) signalAll('SIGKILL');
    if (Date.now() - started > 15_000) throw new Error(`pid ${pid} does not exit`);
    await sleep(20);
  }
}

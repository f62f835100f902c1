/**
 * Saving guests at host shutdown and restoring them at boot, Debian xendomains' XENDOMAINS_SAVE:
 * `xm shutdown --auto` (the unit's ExecStop) saves every running guest to the save directory as
 * NAME.save when xenkit.conf says `on_host_shutdown = save`, and shuts down the ones that cannot
 * be saved; `xm start --auto` (ExecStart) restores those files before it starts /etc/xen/auto.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../../errors.js';
import { underRoot } from '../../paths.js';
import type { HostShutdownAction } from '../../config/xenkit-conf.js';
import type { Session } from './session.js';

/** What the host's shutdown does, and where saved guests go, from xenkit.conf. */
export interface HostShutdownPlan {
  action: HostShutdownAction;
  saveDir: string;
}

/** on_host_shutdown (default shutdown) and save_dir (default /var/lib/xenkit/save, under the root). */
export async function readHostShutdownPlan(session: Session): Promise<HostShutdownPlan> {
  const conf = await session.conf();
  return {
    action: (conf.on_host_shutdown?.value as HostShutdownAction | undefined) ?? 'shutdown',
    saveDir: conf.save_dir ? underRoot(session.paths, conf.save_dir.value) : session.paths.saveDir,
  };
}

/** The save file of guest `name` in `dir`. */
export function saveFileOf(dir: string, name: string): string {
  return path.join(dir, `${name}.save`);
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A guest that could not be saved: shut down instead, or destroyed when it did not stop in time. */
export interface UnsavedGuest {
  name: string;
  reason: string;
  outcome: 'shut down' | 'destroyed';
}

/** What saving every guest came to. */
export interface SaveAllResult {
  saved: { name: string; file: string }[];
  unsaved: UnsavedGuest[];
}

/**
 * Saves every running guest to `dir/NAME.save`, all at once. A guest that cannot be saved (the
 * driver has no save, it has hot-plugged devices, its save file exists already, the save fails)
 * is shut down instead, as xendomains falls back to shutdown, and destroyed if it is still running
 * after `timeoutMs`. Throws only when a guest could be neither saved nor stopped.
 */
export async function saveAllGuests(
  session: Session,
  dir: string,
  timeoutMs?: number,
): Promise<SaveAllResult> {
  const driver = await session.driver();
  const domains = await driver.list();
  if (domains.length > 0) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const result: SaveAllResult = { saved: [], unsaved: [] };
  const settled = await Promise.allSettled(
    domains.map(async ({ name }) => {
      const file = saveFileOf(dir, name);
      try {
        if (!driver.save) throw new Error(`the ${driver.name} driver cannot save guests`);
        await driver.save(name, file);
        result.saved.push({ name, file });
        return;
      } catch (error) {
        const reason = errorText(error);
        try {
          await driver.shutdown(name, { wait: true, timeoutMs });
          result.unsaved.push({ name, reason, outcome: 'shut down' });
        } catch {
          await driver.destroy(name);
          result.unsaved.push({ name, reason, outcome: 'destroyed' });
        }
      }
    }),
  );
  const failed = settled.flatMap((s, i) =>
    s.status === 'rejected' ? [`${domains[i]?.name}: ${errorText(s.reason)}`] : [],
  );
  if (failed.length > 0) {
    throw runtimeError(
      'E_SHUTDOWN_FAILED',
      `${failed.length} of ${domains.length} domains were neither saved nor stopped: ${failed.join('; ')}`,
      `\`${session.prog} destroy NAME\` stops a domain that ignores shutdown`,
    );
  }
  const byName = (a: { name: string }, b: { name: string }): number => a.name.localeCompare(b.name);
  result.saved.sort(byName);
  result.unsaved.sort(byName);
  return result;
}

/** What became of one save file at boot. */
export interface RestoreOutcome {
  name: string;
  file: string;
  outcome: 'restored' | 'failed';
  id?: number;
  error?: string;
  /** Where a save file that failed to restore is kept (out of the next boot's way). */
  keptAs?: string;
}

/** The save files of `dir` (`NAME.save`, regular files), in name order; none when it does not exist. */
function listSaveFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((n) => n.endsWith('.save') && !n.startsWith('.') && statSync(path.join(dir, n)).isFile())
    .sort()
    .map((n) => path.join(dir, n));
}

/**
 * Restores every save file in `dir`, one after the other. A restored guest's file is removed; a
 * file that fails to restore is kept, renamed `NAME.save.failed-TIME` so that no later boot
 * restores it over disks the guest has written since (it is started afresh instead when it is an
 * autostart guest, as xendomains does).
 */
export async function restoreSavedGuests(
  session: Session,
  dir: string,
  onEach?: (o: RestoreOutcome) => void,
): Promise<RestoreOutcome[]> {
  const files = listSaveFiles(dir);
  if (files.length === 0) return [];
  const driver = await session.driver();
  const running = new Set((await driver.list()).map((d) => d.name));
  const outcomes: RestoreOutcome[] = [];
  for (const file of files) {
    const name = path.basename(file, '.save');
    let outcome: RestoreOutcome;
    try {
      if (running.has(name)) throw new Error(`a domain "${name}" is running already`);
      if (!driver.restore) throw new Error(`the ${driver.name} driver cannot restore guests`);
      const domain = await driver.restore(file, {});
      running.add(domain.name);
      rmSync(file, { force: true });
      outcome = { name: domain.name, file, outcome: 'restored', id: domain.id };
    } catch (error) {
      const keptAs = `${file}.failed-${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}`;
      renameSync(file, keptAs);
      outcome = { name, file, outcome: 'failed', error: errorText(error), keptAs };
    }
    outcomes.push(outcome);
    onEach?.(outcome);
  }
  return outcomes;
}

/** One line of `start --auto`'s report for a save file. */
export function describeRestore(o: RestoreOutcome): string {
  if (o.outcome === 'restored') return `Restored domain ${o.name} (id=${o.id}) from ${o.file}`;
  return `Domain ${o.name} failed to restore from ${o.file}: ${o.error}; the file is kept as ${o.keptAs}`;
}

/** Saves every running guest to `dir` (saveAllGuests) and reports it, as text or JSON. */
export async function saveAllAndReport(session: Session, dir: string, timeoutMs?: number): Promise<void> {
  const result = await saveAllGuests(session, dir, timeoutMs);
  const lines = describeSaveAll(result, dir);
  session.report(lines.length === 0 ? 'No guests are running.' : lines.join('\n'), {
    ok: true,
    action: 'save',
    dir,
    ...result,
  });
}

function describeSaveAll(result: SaveAllResult, dir: string): string[] {
  const names = (list: { name: string }[]): string => list.map((g) => g.name).join(', ');
  return [
    ...(result.saved.length > 0 ? [`Saved to ${dir}: ${names(result.saved)}`] : []),
    ...result.unsaved.map(
      (u) =>
        `Domain ${u.name} could not be saved (${u.reason}): ${
          u.outcome === 'shut down' ? 'shut down instead' : 'destroyed (still running when the wait ended)'
        }`,
    ),
  ];
}

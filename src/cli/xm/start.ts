/**
 * `xm start --auto` (host boot: restore the guests saved at host shutdown, then start every
 * linked guest not running) and `xm start NAME...`.
 */
import type { Command } from 'commander';
import { runtimeError, usageError } from '../../errors.js';
import { listAutostart } from '../../hypervisors/autostart.js';
import type { DomainCommandDeps } from './deps.js';
import { startDomain } from './create.js';
import {
  describeRestore,
  readHostShutdownPlan,
  restoreSavedGuests,
  type RestoreOutcome,
} from './host-save.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** What happened to one guest. */
export interface StartOutcome {
  name: string;
  cfgPath: string;
  outcome: 'started' | 'running' | 'failed';
  id?: number;
  error?: string;
}

/** Starts every guest linked in /etc/xen/auto that is not running, one after the other. */
export async function startAutostartGuests(
  session: Session,
  onEach?: (o: StartOutcome) => void,
): Promise<StartOutcome[]> {
  const driver = await session.driver();
  const running = new Set((await driver.list()).map((domain) => domain.name));
  const outcomes: StartOutcome[] = [];
  for (const entry of await listAutostart(session.paths)) {
    let outcome: StartOutcome;
    try {
      if (!entry.exists)
        throw usageError('E_NO_CFG', `${entry.linkPath} points at ${entry.cfgPath}, which does not exist`);
      const config = await session.loadConfig(entry.cfgPath);
      if (running.has(config.name)) {
        outcome = { name: config.name, cfgPath: entry.cfgPath, outcome: 'running' };
      } else {
        const domain = await driver.create(config, { cfgPath: entry.cfgPath });
        running.add(config.name);
        outcome = { name: config.name, cfgPath: entry.cfgPath, outcome: 'started', id: domain.id };
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      outcome = { name: entry.name, cfgPath: entry.cfgPath, outcome: 'failed', error: message };
    }
    outcomes.push(outcome);
    onEach?.(outcome);
  }
  return outcomes;
}

function describe(o: StartOutcome): string {
  if (o.outcome === 'started') return `Started domain ${o.name} (id=${o.id})`;
  if (o.outcome === 'running') return `Domain ${o.name} is already running`;
  return `Domain ${o.name} failed to start: ${o.error}`;
}

/** Registers `start`. */
export function addStartCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('start')
    .summary('start guests: the named ones, or with --auto every autostart guest')
    .description(
      "With --auto, as the host's boot does (xendomains): first restore every guest saved in save_dir " +
        '(xenkit.conf, default /var/lib/xenkit/save) at host shutdown, removing each file once its guest ' +
        'runs again (a file that fails to restore is kept, renamed NAME.save.failed-TIME, and reported), ' +
        'then start every guest linked in /etc/xen/auto that is not running. Exits 1 if any guest failed. ' +
        'With names, start each from /etc/xen/NAME.cfg.',
    )
    .argument('[names...]', 'domains to start')
    .option('--auto', 'start every autostart guest that is not running');
  addCommonOptions(command).action(async (names: string[], _opts: unknown, cmd: Command) => {
    const flags = flagsOf<{ auto: boolean }>(cmd);
    const session = new Session(deps, flags);
    if (flags.auto && names.length > 0) throw usageError('E_ARG', 'give domain names or --auto, not both');
    if (!flags.auto && names.length === 0) {
      throw usageError(
        'E_ARG',
        'start needs domain names or --auto',
        `\`${session.prog} autostart\` lists the autostart guests`,
      );
    }
    let outcomes: StartOutcome[];
    let restored: RestoreOutcome[] = [];
    const print = session.json ? undefined : (o: StartOutcome) => session.print(describe(o));
    if (flags.auto) {
      const { saveDir } = await readHostShutdownPlan(session);
      restored = await restoreSavedGuests(
        session,
        saveDir,
        session.json ? undefined : (o) => session.print(describeRestore(o)),
      );
      outcomes = await startAutostartGuests(session, print);
      if (outcomes.length === 0 && restored.length === 0 && !session.json)
        session.print('No autostart guests.');
    } else {
      outcomes = [];
      for (const name of names) {
        const domain = await startDomain(session, name, false);
        const o: StartOutcome = {
          name: domain.name,
          cfgPath: domain.cfgPath ?? '',
          outcome: 'started',
          id: domain.id,
        };
        outcomes.push(o);
        print?.(o);
      }
    }
    const unrestored = restored.filter((o) => o.outcome === 'failed');
    const failed = outcomes.filter((o) => o.outcome === 'failed');
    if (unrestored.length > 0 || failed.length > 0) {
      throw runtimeError(
        'E_START_FAILED',
        [
          ...(unrestored.length > 0
            ? [
                `${unrestored.length} of ${restored.length} saved guests failed to restore: ${unrestored.map((o) => o.name).join(', ')}`,
              ]
            : []),
          ...(failed.length > 0
            ? [
                `${failed.length} of ${outcomes.length} guests failed to start: ${failed.map((o) => o.name).join(', ')}`,
              ]
            : []),
        ].join('; '),
        unrestored.length > 0
          ? `\`${session.prog} restore FILE\` retries a kept save file, only while the guest's disks are as it left them`
          : `\`${session.prog} create NAME\` starts one by hand and shows the whole error`,
      );
    }
    if (session.json) session.printJson({ ok: true, action: 'start', restored, guests: outcomes });
  });
}

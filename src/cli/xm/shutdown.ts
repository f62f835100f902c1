/**
 * `xm shutdown [-w] NAME`, `xm shutdown --all [-w]`, and `xm shutdown --auto` (what the host does
 * on its way down: shut every guest down, or save them when xenkit.conf says so).
 */
import type { Command } from 'commander';
import { runtimeError, usageError } from '../../errors.js';
import type { DomainCommandDeps } from './deps.js';
import { readHostShutdownPlan, saveAllAndReport } from './host-save.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

interface ShutdownFlags {
  wait: boolean;
  all: boolean;
  auto: boolean;
  timeout: string;
  destroyAfter: boolean;
}

/** Parses `--timeout SECONDS` into milliseconds. */
export function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) {
    throw usageError('E_ARG', `--timeout "${text}" is not a number of seconds`, 'e.g. --timeout 120');
  }
  return Number(text) * 1000;
}

/** What shutting domains down came to: the ones that shut down, the ones destroyed after the timeout. */
export interface ShutdownResult {
  domains: string[];
  destroyed: string[];
}

/**
 * Shuts every running guest down at once. With `destroyAfter` (and a wait), a guest still
 * running when the wait ends is destroyed, as a host on its way down must.
 */
export async function shutdownAll(
  session: Session,
  wait: boolean,
  timeoutMs?: number,
  destroyAfter = false,
): Promise<ShutdownResult> {
  const driver = await session.driver();
  const domains = await driver.list();
  const destroyed: string[] = [];
  const results = await Promise.allSettled(
    domains.map(async (domain) => {
      try {
        await driver.shutdown(domain.name, { wait, timeoutMs });
      } catch (error) {
        if (!destroyAfter) throw error;
        await driver.destroy(domain.name);
        destroyed.push(domain.name);
      }
    }),
  );
  const failed = results.flatMap((result, i) =>
    result.status === 'rejected'
      ? [
          `${domains[i]?.name}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`,
        ]
      : [],
  );
  if (failed.length > 0) {
    throw runtimeError(
      'E_SHUTDOWN_FAILED',
      `${failed.length} of ${domains.length} domains did not shut down: ${failed.join('; ')}`,
      `\`${session.prog} destroy NAME\` stops a domain that ignores shutdown`,
    );
  }
  return { domains: domains.map((d) => d.name).filter((n) => !destroyed.includes(n)), destroyed };
}

/**
 * `shutdown --auto`: the host's shutdown, as xenkit.conf's on_host_shutdown says. `save` saves
 * every guest to save_dir (shutting down the ones that cannot be saved); `shutdown` (the
 * default) shuts them all down. Either way a guest still running after the timeout is destroyed.
 */
async function hostShutdown(session: Session, timeoutMs: number | undefined): Promise<void> {
  const plan = await readHostShutdownPlan(session);
  if (plan.action === 'save') {
    await saveAllAndReport(session, plan.saveDir, timeoutMs);
    return;
  }
  const { domains, destroyed } = await shutdownAll(session, true, timeoutMs, true);
  reportAll(session, true, domains, destroyed);
}

function reportAll(session: Session, wait: boolean, domains: string[], destroyed: string[]): void {
  const lines = [
    ...(domains.length > 0 ? [`${wait ? 'Shut down' : 'Asked to shut down'}: ${domains.join(', ')}`] : []),
    ...(destroyed.length > 0
      ? [`Destroyed (still running when the wait ended): ${destroyed.join(', ')}`]
      : []),
  ];
  session.report(lines.length === 0 ? 'No guests are running.' : lines.join('\n'), {
    ok: true,
    action: 'shutdown',
    waited: wait,
    domains,
    destroyed,
  });
}

/** Registers `shutdown`. */
export function addShutdownCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('shutdown')
    .summary('shut a domain down gracefully')
    .description(
      'Ask a domain (or, with --all, every running guest) to shut down, as its power button would. ' +
        'Returns at once unless -w is given. A guest that ignores the request can be stopped with destroy. ' +
        "--auto is the host's shutdown (the boot-time unit's stop command): with on_host_shutdown = save in " +
        'xenkit.conf every running guest is saved to save_dir (as `save --all`) for `start --auto` to restore ' +
        'at boot, else every guest is shut down; it waits, and destroys what still runs after --timeout.',
    )
    .argument('[name]', 'domain name')
    .option('-w, --wait', 'wait until the domain is gone')
    .option('-a, --all', 'shut down every running guest (host shutdown)')
    .option('--auto', "host shutdown as xenkit.conf's on_host_shutdown says: save or shut down every guest")
    .option('--timeout <seconds>', 'with -w, give up after this many seconds')
    .option('--destroy-after', 'with -w, destroy a domain still running when the wait ends (host shutdown)');
  addCommonOptions(command).action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
    const flags = flagsOf<ShutdownFlags>(cmd);
    const session = new Session(deps, flags);
    const wait = flags.wait === true;
    const timeoutMs = parseTimeout(flags.timeout);
    if (flags.auto) {
      if (name !== undefined || flags.all)
        throw usageError('E_ARG', '--auto takes neither a domain name nor --all');
      await hostShutdown(session, timeoutMs);
      return;
    }
    if (flags.all && name !== undefined) {
      throw usageError('E_ARG', `give a domain name or --all, not both (got "${name}" and --all)`);
    }
    if (flags.destroyAfter && !wait) {
      throw usageError(
        'E_ARG',
        '--destroy-after needs --wait (-w)',
        'e.g. xm shutdown --all -w --timeout 120 --destroy-after',
      );
    }
    if (flags.all) {
      const { domains, destroyed } = await shutdownAll(session, wait, timeoutMs, flags.destroyAfter);
      reportAll(session, wait, domains, destroyed);
      return;
    }
    if (name === undefined) {
      throw usageError(
        'E_ARG',
        'shutdown needs a domain name or --all',
        `\`${session.prog} list\` shows the domains`,
      );
    }
    const domain = await session.findRunning(name, 'shutdown');
    const driver = await session.driver();
    try {
      await driver.shutdown(name, { wait, timeoutMs });
    } catch (error) {
      if (!flags.destroyAfter) throw error;
      await driver.destroy(name);
      session.report(`Domain ${name} (id=${domain.id}) was still running when the wait ended: destroyed`, {
        ok: true,
        action: 'shutdown',
        waited: wait,
        domains: [],
        destroyed: [name],
      });
      return;
    }
    session.report(
      wait
        ? `Domain ${name} (id=${domain.id}) has been shut down`
        : `Shutting down domain ${name} (id=${domain.id})`,
      { ok: true, action: 'shutdown', waited: wait, domains: [name] },
    );
  });
}

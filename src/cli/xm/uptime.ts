/** `xm uptime [NAME...]`: how long each domain has been up, in xm's format. */
import type { Command } from 'commander';
import { readHostUptimeSec } from './default-deps.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** xm/xl's long uptime form: `H:MM:SS`, `1 day,  H:MM:SS`, `N days,  H:MM:SS` (hours padded to 2). */
export function formatUptime(seconds: number): string {
  const total = Math.max(0, Math.floor(seconds));
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const clock = `${String(hours).padStart(2)}:${String(minutes).padStart(2, '0')}:${String(secs).padStart(2, '0')}`;
  if (days > 1) return `${days} days, ${clock}`;
  if (days === 1) return `1 day, ${clock}`;
  return clock;
}

/** One line of the uptime table ("%-33s %4d %s"). */
export function renderUptimeRow(name: string, id: number | string, uptime: string): string {
  return `${name.padEnd(33)} ${String(id).padStart(4)} ${uptime}`;
}

/** Registers `uptime`. */
export function addUptimeCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('uptime')
    .summary('show how long domains have been up')
    .description('Show the uptime of Domain-0 (the host) and of each running guest, or of the named ones.')
    .argument('[names...]', 'only these domains');
  addCommonOptions(command).action(async (names: string[], _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const driver = await session.driver();
    const now = (deps.now ?? (() => new Date()))();
    const domains = (await driver.list()).sort((a, b) => a.id - b.id);
    for (const name of names) {
      if (name !== 'Domain-0' && !domains.some((d) => d.name === name)) throw session.notRunning(name);
    }
    const wanted = (name: string): boolean => names.length === 0 || names.includes(name);
    const rows: { name: string; id: number; uptimeSec: number | null }[] = [];
    if (wanted('Domain-0')) {
      rows.push({ name: 'Domain-0', id: 0, uptimeSec: await (deps.hostUptimeSec ?? readHostUptimeSec)() });
    }
    for (const domain of domains.filter((d) => wanted(d.name))) {
      const uptimeSec = domain.startedAt
        ? Math.max(0, Math.floor((now.getTime() - domain.startedAt.getTime()) / 1000))
        : null;
      rows.push({ name: domain.name, id: domain.id, uptimeSec });
    }
    if (session.json) {
      session.printJson(rows);
      return;
    }
    const lines = [renderUptimeRow('Name', 'ID', 'Uptime')];
    for (const row of rows) {
      lines.push(
        renderUptimeRow(row.name, row.id, row.uptimeSec === null ? '-' : formatUptime(row.uptimeSec)),
      );
    }
    session.print(lines.join('\n'));
  });
}

/** `xm sched-credit -d NAME [-w WEIGHT] [-c CAP]`: read or set a domain's CPU weight and cap. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { SchedParams } from '../../hypervisors/driver.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Parses an integer option within bounds, naming it in the error. */
export function parseBounded(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw usageError('E_ARG', `${what} "${text}" is not a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** xm's table: "%-33s %4s %6s %4s" header, "%-33s %4d %6d %4d" row. */
export function renderSchedCredit(name: string, id: number, params: SchedParams): string {
  const header = `${'Name'.padEnd(33)} ${'ID'.padStart(4)} ${'Weight'.padStart(6)} ${'Cap'.padStart(4)}`;
  const row = `${name.padEnd(33)} ${String(id).padStart(4)} ${String(params.weight).padStart(6)} ${String(params.cap).padStart(4)}`;
  return `${header}\n${row}\n`;
}

/** Registers `sched-credit`. */
export function addSchedCreditCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('sched-credit')
    .summary("read or set a domain's CPU weight and cap")
    .description(
      'Without -w/-c, print the scheduler weight and cap of a domain; with them, set them first. ' +
        'Weight (1-65535, default 256) is the share of CPU under contention: 512 gets twice as much as ' +
        '256. Cap is the most CPU it may use, in percent of one CPU (0 = no cap).',
    )
    .requiredOption('-d, --domain <name>', 'domain name')
    .option('-w, --weight <weight>', 'new weight, 1-65535')
    .option('-c, --cap <cap>', 'new cap, percent of one CPU (0 = none)');
  addCommonOptions(command).action(async (_opts: unknown, cmd: Command) => {
    const flags = flagsOf<{ domain: string; weight: string; cap: string }>(cmd);
    const session = new Session(deps, flags);
    const name = flags.domain ?? '';
    const params: Partial<SchedParams> = {};
    if (flags.weight !== undefined) params.weight = parseBounded(flags.weight, 'weight', 1, 65535);
    if (flags.cap !== undefined) params.cap = parseBounded(flags.cap, 'cap', 0, 100 * 4096);
    const domain = await session.findRunning(name, 'sched-credit');
    const result = await (await session.driver()).schedCredit(name, params);
    session.report(renderSchedCredit(name, domain.id, result), { name, id: domain.id, ...result });
  });
}

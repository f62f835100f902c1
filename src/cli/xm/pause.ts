/** `xm pause NAME`: pause a domain. */
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Registers `pause`. */
export function addPauseCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('pause')
    .summary('pause a domain')
    .description('Stop scheduling the vCPUs of a domain. It keeps its memory; `unpause` lets it run again.')
    .argument('<name>', 'domain name');
  addCommonOptions(command).action(async (name: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const domain = await session.findRunning(name, 'pause');
    await (await session.driver()).pause(name);
    session.report(`Paused domain ${name} (id=${domain.id})`, { ok: true, action: 'pause', domain: name });
  });
}

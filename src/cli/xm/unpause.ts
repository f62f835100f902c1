/** `xm unpause NAME`: let a paused domain run again. */
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Registers `unpause`. */
export function addUnpauseCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('unpause')
    .summary('let a paused domain run again')
    .description('Let a paused domain run again.')
    .argument('<name>', 'domain name');
  addCommonOptions(command).action(async (name: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const domain = await session.findRunning(name, 'unpause');
    await (await session.driver()).unpause(name);
    session.report(`Unpaused domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'unpause',
      domain: name,
    });
  });
}

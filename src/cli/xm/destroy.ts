/** `xm destroy NAME`: stop a domain at once (pull the plug). */
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Registers `destroy`. */
export function addDestroyCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('destroy')
    .summary('stop a domain at once (pull the plug)')
    .description(
      'Stop a domain immediately, without asking the guest OS: the equivalent of pulling the power cord. The config and disks stay; `create` starts it again.',
    )
    .argument('<name>', 'domain name');
  addCommonOptions(command).action(async (name: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const domain = await session.findRunning(name, 'destroy');
    await (await session.driver()).destroy(name);
    session.report(`Destroyed domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'destroy',
      domain: name,
    });
  });
}

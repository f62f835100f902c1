/** `xm sysrq NAME KEY`: the magic SysRq key, sent to a domain's kernel. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** Registers `sysrq`. */
export function addSysrqCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('sysrq')
    .summary("send a magic SysRq key to a domain's kernel")
    .description(
      "Send the magic SysRq key KEY to the domain's kernel, as Alt+SysRq+KEY would on its keyboard " +
        '(xl sysrq on Xen): h prints the help on its console, s syncs, u remounts read-only, b reboots ' +
        'at once, c crashes it. What the guest accepts is its kernel.sysrq setting.',
    )
    .argument('<name>', 'domain name')
    .argument('<key>', 'one letter or digit, e.g. h');
  addCommonOptions(command).action(async (name: string, key: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    if (!/^[a-z0-9]$/.test(key)) {
      throw usageError(
        'E_ARG',
        `sysrq key "${key}" is not one lower-case letter or digit`,
        'e.g. xm sysrq NAME h',
      );
    }
    const domain = await session.findRunning(name, 'sysrq');
    await requireVerb(await session.driver(), 'sysrq', 'sysrq')(name, key);
    session.report(`Sent SysRq ${key} to domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'sysrq',
      domain: name,
      key,
    });
  });
}

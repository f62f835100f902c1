/** `xm reboot [-w] NAME`: reboot a domain as its reset would, through the guest OS. */
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';
import { parseTimeout } from './shutdown.js';

/** Registers `reboot`. */
export function addRebootCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('reboot')
    .summary('reboot a domain')
    .description(
      'Ask a domain to reboot. It comes back with a new ID (its on_reboot setting permitting). ' +
        'Returns at once unless -w is given.',
    )
    .argument('<name>', 'domain name')
    .option('-w, --wait', 'wait until the old domain is gone')
    .option('--timeout <seconds>', 'with -w, give up after this many seconds');
  addCommonOptions(command).action(async (name: string, _opts: unknown, cmd: Command) => {
    const flags = flagsOf<{ wait: boolean; timeout: string }>(cmd);
    const session = new Session(deps, flags);
    const wait = flags.wait === true;
    const timeoutMs = parseTimeout(flags.timeout);
    const domain = await session.findRunning(name, 'reboot');
    await (await session.driver()).reboot(name, { wait, timeoutMs });
    session.report(`Rebooting domain ${name} (id=${domain.id})`, {
      ok: true,
      action: 'reboot',
      domain: name,
    });
  });
}

/** `xm autostart [NAME [on|off]]`: the /etc/xen/auto links that start guests at host boot. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import {
  autostartLinkFor,
  disableAutostart,
  enableAutostart,
  listAutostart,
} from '../../hypervisors/autostart.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Registers `autostart`. */
export function addAutostartCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('autostart')
    .summary('list, enable or disable starting guests at host boot')
    .description(
      'Without arguments, list the guests that start at host boot. With NAME on, link ' +
        '/etc/xen/auto/NAME.cfg -> ../NAME.cfg (the config must exist); with NAME off, remove the link. ' +
        'Linked guests are started by `start --auto` (what xendomains does at boot).',
    )
    .argument('[name]', 'domain name')
    .argument('[state]', 'on or off');
  addCommonOptions(command).action(
    async (name: string | undefined, state: string | undefined, _opts: unknown, cmd: Command) => {
      const session = new Session(deps, flagsOf(cmd));
      const entries = await listAutostart(session.paths);
      if (name === undefined) {
        if (session.json) {
          session.printJson(entries);
        } else if (entries.length === 0) {
          session.print(`No guests start at boot (${session.paths.autoDir} has no links).`);
        } else {
          session.print(
            entries
              .map((e) => `${e.name.padEnd(33)} ${e.cfgPath}${e.exists ? '' : '  (missing: dangling link)'}`)
              .join('\n'),
          );
        }
        return;
      }
      session.guestName(name, 'autostart');
      if (state === undefined) {
        const on = entries.some((e) => e.name === name);
        session.report(`${name}: autostart ${on ? 'on' : 'off'}`, { name, autostart: on });
        return;
      }
      const wanted = state.toLowerCase();
      if (wanted !== 'on' && wanted !== 'off') {
        throw usageError(
          'E_ARG',
          `autostart state "${state}" is not on or off`,
          `e.g. \`${session.prog} autostart ${name} on\``,
        );
      }
      const changed =
        wanted === 'on'
          ? await enableAutostart(session.paths, name)
          : await disableAutostart(session.paths, name);
      const link = autostartLinkFor(session.paths, name);
      session.report(
        `${name}: autostart ${wanted}${changed ? '' : ' (unchanged)'}${wanted === 'on' ? ` (${link})` : ''}`,
        { name, autostart: wanted === 'on', changed, link },
      );
    },
  );
}

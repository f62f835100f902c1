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

/** `on` or `off` from the command line, else E_ARG. */
function parseState(session: Session, name: string, state: string): 'on' | 'off' {
  const wanted = state.toLowerCase();
  if (wanted !== 'on' && wanted !== 'off') {
    throw usageError(
      'E_ARG',
      `autostart state "${state}" is not on or off`,
      `e.g. \`${session.prog} autostart ${name} on\``,
    );
  }
  return wanted;
}

/** Under libvirt: its own autostart flag of a defined domain (libvirtd starts those when it starts). */
async function libvirtAutostart(
  session: Session,
  name: string | undefined,
  state: string | undefined,
): Promise<void> {
  const driver = await session.driver();
  if (!driver.autostart) throw new Error('the libvirt driver has no autostart');
  const names = await driver.autostart.list();
  if (name === undefined) {
    if (session.json) session.printJson(names.map((n) => ({ name: n })));
    else session.print(names.length === 0 ? 'No guests start with libvirt.' : names.join('\n'));
    return;
  }
  session.guestName(name, 'autostart');
  const on = names.includes(name);
  if (state === undefined) {
    session.report(`${name}: autostart ${on ? 'on' : 'off'}`, { name, autostart: on });
    return;
  }
  const wanted = parseState(session, name, state) === 'on';
  if (wanted !== on) await driver.autostart.set(name, wanted);
  session.report(
    `${name}: autostart ${wanted ? 'on' : 'off'}${wanted === on ? ' (unchanged)' : ''} (libvirt)`,
    {
      name,
      autostart: wanted,
      changed: wanted !== on,
    },
  );
}

/** Registers `autostart`. */
export function addAutostartCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('autostart')
    .summary('list, enable or disable starting guests at host boot')
    .description(
      'Without arguments, list the guests that start at host boot. With NAME on, link ' +
        '/etc/xen/auto/NAME.cfg -> ../NAME.cfg (the config must exist); with NAME off, remove the link. ' +
        'Linked guests are started by `start --auto` (what xendomains does at boot). Under the libvirt ' +
        "driver it is libvirt's own autostart flag of the defined domain instead (libvirtd starts it).",
    )
    .argument('[name]', 'domain name')
    .argument('[state]', 'on or off');
  addCommonOptions(command).action(
    async (name: string | undefined, state: string | undefined, _opts: unknown, cmd: Command) => {
      const session = new Session(deps, flagsOf(cmd));
      if ((await session.chooseDriver()).driver === 'libvirt') {
        await libvirtAutostart(session, name, state);
        return;
      }
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
      const wanted = parseState(session, name, state);
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

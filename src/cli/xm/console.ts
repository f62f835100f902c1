/** `xm console NAME`: attach to a running domain's console (Ctrl-] detaches). */
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Attaches the session's streams to the console of `name`. */
export async function attachConsole(session: Session, name: string): Promise<void> {
  const driver = await session.driver();
  const { io } = session.deps;
  await driver.console(name, { input: io.stdin, output: io.stdout, isTTY: io.isTTY });
}

/** Registers `console`. */
export function addConsoleCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('console')
    .summary("attach to a domain's console")
    .description(
      'Attach to the serial console of a running domain. Ctrl-] detaches; the domain keeps running.',
    )
    .argument('<name>', 'domain name');
  addCommonOptions(command, { json: false }).action(async (name: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    await session.findRunning(name, 'console');
    await attachConsole(session, name);
  });
}

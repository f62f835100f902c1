/** `xm save NAME FILE` and `xm restore FILE`: a guest's running state to a file and back. */
import path from 'node:path';
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** Registers `save` and `restore`. */
export function addSaveCommands(program: Command, deps: DomainCommandDeps): void {
  const save = program
    .command('save')
    .summary("write a running domain's state to a file and stop it")
    .description(
      'Write the memory and device state of a running (or paused) domain to FILE, a new file (0600: ' +
        'it holds the guest memory, secrets included), then stop the domain, as `xl save` does. Under ' +
        'QEMU the file also carries the guest config and the kernel it runs, so `restore FILE` needs ' +
        "nothing else (on a Xen dom0 it is `xl save`'s file); its disks must not change in between (do not start the guest from its cfg " +
        'meanwhile). On failure the domain keeps running and no file is left.',
    )
    .argument('<name>', 'domain name')
    .argument('<file>', 'the save file to write (must not exist)');
  addCommonOptions(save).action(async (name: string, file: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const domain = await session.findRunning(name, 'save');
    const started = Date.now();
    await requireVerb(await session.driver(), 'save', 'save')(name, path.resolve(file));
    session.report(`Saved domain ${name} (id=${domain.id}) to ${file} and stopped it`, {
      ok: true,
      action: 'save',
      domain: name,
      file: path.resolve(file),
      ms: Date.now() - started,
    });
  });

  const restore = program
    .command('restore')
    .summary('start a domain again from a save file')
    .description(
      'Start the domain saved in FILE (by `save`) again, running where it stopped: its memory, ' +
        'processes and console as they were, under a new ID. With -p it stays paused (`unpause` runs it). ' +
        'The file is kept.',
    )
    .argument('<file>', 'a file written by save')
    .option('-p, --paused', 'leave the domain paused');
  addCommonOptions(restore).action(async (file: string, _opts: unknown, cmd: Command) => {
    const flags = flagsOf<{ paused?: boolean }>(cmd);
    const session = new Session(deps, flags);
    const started = Date.now();
    const domain = await requireVerb(
      await session.driver(),
      'restore',
      'restore',
    )(path.resolve(file), {
      paused: flags.paused === true,
    });
    session.report(
      `Restored domain ${domain.name} (id=${domain.id}) from ${file}${flags.paused ? ', paused' : ''}`,
      {
        ok: true,
        action: 'restore',
        domain: domain.name,
        id: domain.id,
        file: path.resolve(file),
        ms: Date.now() - started,
      },
    );
  });
}

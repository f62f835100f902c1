/**
 * `xm save NAME FILE`, `xm save --all [DIR]` (every guest, as at host shutdown) and
 * `xm restore FILE`: a guest's running state to a file and back.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { underRoot } from '../../paths.js';
import type { DomainCommandDeps } from './deps.js';
import { readHostShutdownPlan, saveAllAndReport } from './host-save.js';
import { parseTimeout } from './shutdown.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** `save --all [DIR]`: every running guest to DIR/NAME.save, the ones that cannot be saved shut down. */
async function saveAll(
  session: Session,
  dir: string | undefined,
  timeout: string | undefined,
): Promise<void> {
  const timeoutMs = parseTimeout(timeout);
  const target =
    dir !== undefined ? underRoot(session.paths, dir) : (await readHostShutdownPlan(session)).saveDir;
  await saveAllAndReport(session, target, timeoutMs);
}

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
        'meanwhile). On failure the domain keeps running and no file is left. ' +
        'With --all (host shutdown, what `shutdown --auto` runs under on_host_shutdown = save) every running ' +
        'guest is saved to DIR/NAME.save (DIR: save_dir of xenkit.conf, default /var/lib/xenkit/save), all at ' +
        'once; a guest that cannot be saved (hot-plugged devices, a save file already there, a failed save) ' +
        'is shut down instead, destroyed if still running after --timeout, and the output says so. ' +
        '`start --auto` restores the saved guests at boot.',
    )
    .argument('[name]', 'domain name (with --all: the directory to save into)')
    .argument('[file]', 'the save file to write (must not exist)')
    .option('-a, --all', 'save every running guest to DIR/NAME.save (host shutdown)')
    .option('--timeout <seconds>', 'with --all, how long a guest that cannot be saved may take to shut down');
  addCommonOptions(save).action(
    async (name: string | undefined, file: string | undefined, _opts: unknown, cmd: Command) => {
      const flags = flagsOf<{ all?: boolean; timeout?: string }>(cmd);
      const session = new Session(deps, flags);
      if (flags.all) {
        if (file !== undefined) {
          throw usageError(
            'E_ARG',
            `save --all takes one directory, not "${name}" and "${file}"`,
            'e.g. xm save --all /var/lib/xenkit/save',
          );
        }
        await saveAll(session, name, flags.timeout);
        return;
      }
      if (name === undefined || file === undefined) {
        throw usageError(
          'E_ARG',
          'save needs a domain name and a file, or --all',
          `e.g. ${session.prog} save web1 /var/tmp/web1.save`,
        );
      }
      if (flags.timeout !== undefined)
        throw usageError(
          'E_ARG',
          '--timeout goes with --all',
          `e.g. ${session.prog} save --all --timeout 120`,
        );
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
    },
  );

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

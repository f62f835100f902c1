/** `xm mem-max NAME SIZE`: the most memory a running domain may be given (mem-set's ceiling). */
import type { Command } from 'commander';
import { toMiB } from '../../model/size.js';
import type { DomainCommandDeps } from './deps.js';
import { parseMemSize } from './mem-set.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** Registers `mem-max`. */
export function addMemMaxCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('mem-max')
    .summary('set the maximum memory of a running domain')
    .description(
      "Set the most memory a running domain may balloon up to (mem-set's ceiling): SIZE like 512M or 1G " +
        '(a bare number is MiB). It cannot go below its current memory (mem-set it lower first). Under ' +
        'QEMU it cannot go above the memory the guest was started with (its maxmem then); on Xen this is ' +
        "xl mem-max. Not written into the domain's cfg.",
    )
    .argument('<name>', 'domain name')
    .argument('<size>', 'new maximum, e.g. 512M, 1G');
  addCommonOptions(command).action(async (name: string, sizeText: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const bytes = parseMemSize(sizeText, name);
    const domain = await session.findRunning(name, 'mem-max');
    await requireVerb(await session.driver(), 'setMaxMemory', 'mem-max')(name, bytes);
    const mib = toMiB(bytes);
    session.report(`Domain ${name}: maximum memory ${mib} MiB (was ${domain.maxMemoryMiB} MiB)`, {
      ok: true,
      action: 'mem-max',
      domain: name,
      maxMemoryMiB: mib,
      previous: domain.maxMemoryMiB,
    });
  });
}

/** `xm mem-set NAME SIZE`: change the memory of a running domain (its balloon target). */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { parseSize, toMiB } from '../../model/size.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** Parses a mem-set size: `256M`, `1G`, `1.5G`; a bare number is MiB, as xm took it. */
export function parseMemSize(text: string, name: string): number {
  const bytes = parseSize(text, `domain "${name}": memory`, { defaultUnit: 'm' });
  if (bytes % (1024 * 1024) !== 0) {
    throw usageError(
      'E_SIZE',
      `domain "${name}": memory "${text}" is not a whole number of MiB`,
      'e.g. 256M or 1G',
    );
  }
  return bytes;
}

/** Registers `mem-set`. */
export function addMemSetCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('mem-set')
    .summary('set the memory of a running domain')
    .description(
      "Set a running domain's memory target: SIZE like 256M or 1G (a bare number is MiB). The guest's " +
        "balloon driver gives memory back or takes it, up to the domain's maxmem.",
    )
    .argument('<name>', 'domain name')
    .argument('<size>', 'new memory size, e.g. 256M, 1G');
  addCommonOptions(command).action(async (name: string, sizeText: string, _opts: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const bytes = parseMemSize(sizeText, name);
    const domain = await session.findRunning(name, 'mem-set');
    const mib = toMiB(bytes);
    if (mib > domain.maxMemoryMiB) {
      throw usageError(
        'E_MEMORY',
        `domain "${name}": ${mib} MiB is more than its maxmem (${domain.maxMemoryMiB} MiB)`,
        `set maxmem = ${mib} in its config and restart it`,
      );
    }
    await (await session.driver()).setMemory(name, bytes);
    session.report(`Domain ${name}: memory target ${mib} MiB (was ${domain.memoryMiB} MiB)`, {
      ok: true,
      action: 'mem-set',
      domain: name,
      memoryMiB: mib,
      previous: domain.memoryMiB,
    });
  });
}

/** `xm dmesg [NAME] [-c]`: the hypervisor's message log, or what the QEMU driver keeps of a guest's. */
import type { Command } from 'commander';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** Registers `dmesg`. */
export function addDmesgCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('dmesg')
    .summary("print the hypervisor's message log (QEMU: a guest's console log)")
    .description(
      "On Xen: Xen's own message buffer (xl dmesg; no NAME). QEMU has no such log, so under the QEMU " +
        "driver NAME is required and the command prints the last 64 KiB of that guest's console log: " +
        'what its kernel and getty wrote on the serial console since it started (boot messages ' +
        'included), kept by the driver in its runtime directory. -c empties the log after printing it.',
    )
    .argument('[name]', 'domain name (QEMU driver)')
    .option('-c, --clear', 'clear the log after printing it');
  addCommonOptions(command).action(async (name: string | undefined, _o: unknown, cmd: Command) => {
    const flags = flagsOf<{ clear?: boolean }>(cmd);
    const session = new Session(deps, flags);
    if (name !== undefined) await session.findRunning(name, 'dmesg');
    const text = await requireVerb(
      await session.driver(),
      'dmesg',
      'dmesg',
    )({
      ...(name !== undefined ? { name } : {}),
      clear: flags.clear === true,
    });
    if (session.json) session.printJson({ domain: name ?? null, log: text });
    else deps.io.stdout.write(text);
  });
}

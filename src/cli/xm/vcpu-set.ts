/** `xm vcpu-set NAME N`: change how many vCPUs a running domain has online. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, parseCount, Session } from './session.js';

/** Registers `vcpu-set`. */
export function addVcpuSetCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('vcpu-set')
    .summary('set the number of vCPUs of a running domain')
    .description(
      'Hot-plug vCPUs: bring N virtual CPUs online in a running domain. N goes from 1 to the ' +
        "domain's maxvcpus (set in its config at start; raising it needs a restart).",
    )
    .argument('<name>', 'domain name')
    .argument('<count>', 'number of vCPUs')
    .option(
      '--ignore-host',
      'allow more vCPUs than the host has physical CPUs (xl refuses that otherwise; QEMU allows it)',
    );
  addCommonOptions(command).action(async (name: string, countText: string, _opts: unknown, cmd: Command) => {
    const flags = flagsOf<{ ignoreHost?: boolean }>(cmd);
    const session = new Session(deps, flags);
    const count = parseCount(countText, `domain "${name}": vCPU count`, 'e.g. `vcpu-set NAME 2`');
    const domain = await session.findRunning(name, 'vcpu-set');
    if (count > domain.maxVcpus) {
      throw usageError(
        'E_VCPUS',
        `domain "${name}": ${count} vCPUs is more than its maxvcpus (${domain.maxVcpus})`,
        `set maxvcpus = ${count} in its config and restart it`,
      );
    }
    await (await session.driver()).setVcpus(name, count, { ignoreHost: flags.ignoreHost === true });
    session.report(`Domain ${name}: ${count} vCPU${count === 1 ? '' : 's'} (was ${domain.vcpus})`, {
      ok: true,
      action: 'vcpu-set',
      domain: name,
      vcpus: count,
      previous: domain.vcpus,
    });
  });
}

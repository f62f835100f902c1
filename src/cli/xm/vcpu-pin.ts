/** `xm vcpu-list NAME` and `xm vcpu-pin NAME VCPU CPUS`: where a domain's vCPUs run, and pinning them. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { VcpuInfo } from '../../hypervisors/driver.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** xl vcpu-list's table (`Name ID VCPU CPU State Time(s) Affinity`). */
export function renderVcpuList(name: string, id: number, vcpus: readonly VcpuInfo[]): string {
  const lines = ['Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard)'];
  for (const v of vcpus) {
    const state = `${v.running ? 'r' : '-'}${v.blocked ? 'b' : '-'}${v.online ? '-' : 'p'}`;
    lines.push(
      `${name.padEnd(32)} ${String(id).padStart(5)} ${String(v.vcpu).padStart(5)} ${(v.cpu === undefined ? '-' : String(v.cpu)).padStart(5)}   ${state}  ${v.timeSec.toFixed(1).padStart(9)}  ${v.affinity}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Registers `vcpu-list` and `vcpu-pin`. */
export function addVcpuPinCommands(program: Command, deps: DomainCommandDeps): void {
  const list = program
    .command('vcpu-list')
    .summary("list a running domain's vCPUs: host CPU, state, time, affinity")
    .description(
      'For each vCPU of a running domain: the host CPU it runs (or last ran) on, its state (r running, ' +
        'b blocked, p offline), its CPU time and the host CPUs it may run on. Under QEMU each vCPU is a ' +
        'thread of the QEMU process; on Xen this is xl vcpu-list.',
    )
    .argument('<name>', 'domain name');
  addCommonOptions(list).action(async (name: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    const domain = await session.findRunning(name, 'vcpu-list');
    const vcpus = await requireVerb(await session.driver(), 'vcpuList', 'vcpu-list')(name);
    if (session.json) session.printJson(vcpus);
    else session.print(renderVcpuList(name, domain.id, vcpus));
  });

  const pin = program
    .command('vcpu-pin')
    .summary('pin vCPUs of a running domain to host CPUs')
    .description(
      'Let vCPU VCPU (a number, or all) of a running domain run only on the host CPUs CPUS: a list ' +
        'like 0, 0-1 or 0,2-3, or all to unpin. Under QEMU the vCPU threads get that affinity ' +
        "(taskset -p); on Xen this is xl vcpu-pin (hard affinity). Like xl's, the pinning is not " +
        "written into the domain's cfg and ends when the domain stops; a vCPU added later starts unpinned.",
    )
    .argument('<name>', 'domain name')
    .argument('<vcpu>', 'vCPU number, or all')
    .argument('<cpus>', 'host CPUs: 0, 0-1, 0,2-3 or all');
  addCommonOptions(pin).action(
    async (name: string, vcpuText: string, cpus: string, _o: unknown, cmd: Command) => {
      const session = new Session(deps, flagsOf(cmd));
      if (vcpuText !== 'all' && !/^\d+$/.test(vcpuText)) {
        throw usageError(
          'E_ARG',
          `vCPU "${vcpuText}" is not a vCPU number or all`,
          'e.g. xm vcpu-pin NAME 0 1',
        );
      }
      if (cpus !== 'all' && !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(cpus)) {
        throw usageError('E_ARG', `CPU list "${cpus}" is not a CPU list`, 'e.g. 0, 0-1, 0,2-3 or all');
      }
      const vcpu = vcpuText === 'all' ? 'all' : Number(vcpuText);
      const domain = await session.findRunning(name, 'vcpu-pin');
      await requireVerb(await session.driver(), 'vcpuPin', 'vcpu-pin')(name, vcpu, cpus);
      session.report(`Domain ${name} (id=${domain.id}): vCPU ${vcpuText} pinned to CPUs ${cpus}`, {
        ok: true,
        action: 'vcpu-pin',
        domain: name,
        vcpu,
        cpus,
      });
    },
  );
}

/**
 * Onlining of hot-added vCPUs. `xm vcpu-set` plugs a vCPU into a running guest (QEMU device_add,
 * or Xen's vcpu_avail), but on x86 the Linux kernel leaves a hot-added CPU offline until user
 * space writes 1 to its `online` attribute, and Debian ships no rule that does it (Red Hat and
 * SUSE do: this is their rule). Without it `vcpu-set` would change nothing the guest can use.
 */
import type { PlanAction } from '../plan/plan.js';
import type { CustomizeContext } from './types.js';

export const CPU_ONLINE_RULES = '/etc/udev/rules.d/80-xenkit-cpu-online.rules';

/** The udev rule: on a CPU's add event, if it has an `online` attribute reading 0, write 1. */
export function renderCpuOnlineRules(): string {
  return [
    '# Written by xenkit: bring hot-added vCPUs online (xm vcpu-set); Debian does not.',
    'SUBSYSTEM=="cpu", ACTION=="add", TEST=="online", ATTR{online}=="0", ATTR{online}="1"',
    '',
  ].join('\n');
}

/** What the step writes. */
export function describeCpuHotplug(): PlanAction[] {
  return [{ kind: 'write', path: CPU_ONLINE_RULES, mode: 0o644, content: renderCpuOnlineRules() }];
}

/** Writes the udev rule that onlines hot-added vCPUs. */
export async function applyCpuHotplug(c: CustomizeContext): Promise<void> {
  c.editor.mkdir('/etc/udev/rules.d', { mode: 0o755 });
  c.editor.writeFile(CPU_ONLINE_RULES, renderCpuOnlineRules(), { mode: 0o644 });
}

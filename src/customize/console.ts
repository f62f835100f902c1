/**
 * Login consoles. The same image must give a login prompt on hvc0 under Xen and on ttyS0 under
 * QEMU, and must not wait at boot for the console the current hypervisor lacks. Statically enabled
 * serial-getty@hvc0/ttyS0 units do wait (they bind to their device; seen here: a TCG boot sat on
 * the missing hvc0 and, under load, gave up on a late ttyS0 too), so xenkit leaves the standard
 * consoles to systemd-getty-generator, which starts a getty on every console the kernel really
 * has: the kernel command line names both (`console=ttyS0 console=hvc0`, see boot-menu.ts; the QEMU
 * driver passes `console=ttyS0`), and the generator always adds hvc0 when it exists. Only an extra
 * serial device the user asked for (`--serial_device`) is enabled explicitly.
 */
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import { enableUnits, findUnitFile } from './systemd-units.js';
import type { CustomizeContext } from './types.js';

/** The consoles the kernel command line names; the generator gives each a getty. */
export const KERNEL_CONSOLES = ['ttyS0', 'hvc0'] as const;

const GENERATOR = [
  '/usr/lib/systemd/system-generators/systemd-getty-generator',
  '/lib/systemd/system-generators/systemd-getty-generator',
];

/** Console devices that need an explicitly enabled getty (a configured serial device other than the standard ones). */
export function extraConsoleDevices(spec: GuestSpec): string[] {
  const configured = spec.boot.serialDevice.replace(/^\/dev\//, '');
  return configured && !(KERNEL_CONSOLES as readonly string[]).includes(configured) ? [configured] : [];
}

/** Every console with a login prompt: hvc0, ttyS0 and the configured serial device. */
export function consoleDevices(spec: GuestSpec): string[] {
  return [...KERNEL_CONSOLES, ...extraConsoleDevices(spec)];
}

/** What the console step does. */
export function describeConsole(spec: GuestSpec): PlanAction[] {
  return [
    {
      kind: 'note',
      text: 'gettys on ttyS0 (QEMU) and hvc0 (Xen) come from systemd-getty-generator: the kernel command line names both consoles',
    },
    ...extraConsoleDevices(spec).map((device): PlanAction => ({
      kind: 'run',
      argv: ['systemctl', '--root=<guest>', 'enable', `serial-getty@${device}.service`],
    })),
  ];
}

/** Checks the generator is there, enables an extra serial getty, lists the consoles in securetty if it exists. */
export async function applyConsole(c: CustomizeContext): Promise<void> {
  if (
    !GENERATOR.some((g) => c.editor.exists(g)) &&
    findUnitFile(c.editor, 'serial-getty@.service') !== undefined
  ) {
    // A systemd without the generator: fall back to enabling the standard consoles statically.
    await enableUnits(
      c,
      KERNEL_CONSOLES.map((d) => `serial-getty@${d}.service`),
    );
  }
  const missing = await enableUnits(
    c,
    extraConsoleDevices(c.spec).map((d) => `serial-getty@${d}.service`),
  );
  for (const unit of missing) {
    c.step.sink({
      type: 'warn',
      message: `guest "${c.spec.name}": ${unit} is not installed, no login on that console`,
    });
  }
  // Debian dropped /etc/securetty in bullseye; older trees still gate root logins with it.
  const securetty = c.editor.read('/etc/securetty');
  if (securetty !== undefined) {
    const listed = new Set(securetty.split('\n').map((l) => l.trim()));
    const added = consoleDevices(c.spec).filter((d) => !listed.has(d));
    if (added.length > 0) {
      const base = securetty.endsWith('\n') || securetty === '' ? securetty : `${securetty}\n`;
      c.editor.writeFile('/etc/securetty', `${base}${added.join('\n')}\n`, { mode: 0o644 });
    }
  }
}

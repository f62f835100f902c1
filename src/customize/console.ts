/**
 * Login consoles: a getty on hvc0 (Xen's console) and on ttyS0 (QEMU's serial port), plus the
 * configured serial device, so the same image has a login prompt under either hypervisor.
 */
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import { enableUnits } from './systemd-units.js';
import type { CustomizeContext } from './types.js';

/** How long boot waits for a console device that this hypervisor does not have. */
const DEVICE_TIMEOUT = '5s';

/** The console devices of a guest: hvc0, ttyS0 and the configured serial device, deduplicated. */
export function consoleDevices(spec: GuestSpec): string[] {
  const configured = spec.boot.serialDevice.replace(/^\/dev\//, '');
  return [...new Set(['hvc0', 'ttyS0', ...(configured ? [configured] : [])])];
}

/** The drop-in path that bounds the wait for a console device. */
export function deviceTimeoutPath(device: string): string {
  return `/etc/systemd/system/dev-${device.replace(/\//g, '-')}.device.d/50-xenkit-console.conf`;
}

/**
 * serial-getty@X BindsTo dev-X.device, and getty.target waits for it: without a bound, a guest
 * under QEMU (no hvc0) or Xen PV (no ttyS0) would sit 90 s at boot waiting for the missing one.
 */
export function renderDeviceTimeout(): string {
  return `# Written by xenkit: this console may not exist under this hypervisor; do not wait for it.\n[Unit]\nJobRunningTimeoutSec=${DEVICE_TIMEOUT}\n`;
}

/** What the console step does. */
export function describeConsole(spec: GuestSpec): PlanAction[] {
  return consoleDevices(spec).flatMap((device): PlanAction[] => [
    { kind: 'run', argv: ['systemctl', '--root=<guest>', 'enable', `serial-getty@${device}.service`] },
    { kind: 'write', path: deviceTimeoutPath(device), mode: 0o644, content: renderDeviceTimeout() },
  ]);
}

/** Enables the gettys, bounds their device waits, and lists the devices in securetty if it exists. */
export async function applyConsole(c: CustomizeContext): Promise<void> {
  const devices = consoleDevices(c.spec);
  const missing = await enableUnits(
    c,
    devices.map((d) => `serial-getty@${d}.service`),
  );
  for (const unit of missing) {
    c.step.sink({
      type: 'warn',
      message: `guest "${c.spec.name}": ${unit} is not installed, no login on that console`,
    });
  }
  for (const device of devices) {
    c.editor.writeFile(deviceTimeoutPath(device), renderDeviceTimeout(), { mode: 0o644 });
  }
  // Debian dropped /etc/securetty in bullseye; older trees still gate root logins with it.
  const securetty = c.editor.read('/etc/securetty');
  if (securetty !== undefined) {
    const listed = new Set(securetty.split('\n').map((l) => l.trim()));
    const added = devices.filter((d) => !listed.has(d));
    if (added.length > 0) {
      const base = securetty.endsWith('\n') || securetty === '' ? securetty : `${securetty}\n`;
      c.editor.writeFile('/etc/securetty', `${base}${added.join('\n')}\n`, { mode: 0o644 });
    }
  }
}

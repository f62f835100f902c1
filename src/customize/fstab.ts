/**
 * /etc/fstab by filesystem UUID: the root disk is xvda2 under Xen, vda under QEMU and sda under
 * others, so device names (xen-tools wrote /dev/xvda1, /dev/xvda2) would break every other host.
 */
import type { GuestSpec } from '../model/guest-spec.js';
import { listGuestSwaps, swapUuidOf } from '../model/guest-volumes.js';
import type { PlanAction } from '../plan/plan.js';
import type { CustomizeContext, GuestIds } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Renders fstab from the UUIDs the planner chose. */
export function renderFstab(spec: GuestSpec, ids: GuestIds): string {
  // fsck at boot only makes sense for ext*; xfs and btrfs check themselves at mount time.
  const pass = ids.rootFs.startsWith('ext') ? 1 : 0;
  const options = spec.disk.mountOptions.trim() || 'defaults';
  const lines = [
    '# Written by xenkit: filesystems by UUID, so the guest boots whatever the hypervisor names its disks.',
    '# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>',
    `UUID=${checkUuid(ids.rootUuid, 'root')}\t/\t${ids.rootFs}\t${options}\t0\t${pass}`,
  ];
  for (const volume of spec.volumes ?? []) {
    const uuid = ids.volumeUuids?.[volume.name] ?? '';
    const volumePass = volume.fs.startsWith('ext') ? 2 : 0;
    lines.push(
      `UUID=${checkUuid(uuid, volume.mountpoint)}\t${volume.mountpoint}\t${volume.fs}\t${volume.mountOptions}\t0\t${volumePass}`,
    );
  }
  for (const swap of listGuestSwaps(spec)) {
    const uuid = swapUuidOf(spec, ids, swap);
    if (uuid) lines.push(`UUID=${checkUuid(uuid, swap.name)}\tnone\tswap\tsw\t0\t0`);
  }
  return `${lines.join('\n')}\n`;
}

function checkUuid(uuid: string, what: string): string {
  // A programming error upstream, not user input: the planner generates these.
  if (!UUID.test(uuid)) throw new Error(`${what} filesystem UUID "${uuid}" is not a UUID`);
  return uuid.toLowerCase();
}

/** What the fstab step writes (content only when the UUIDs are known). */
export function describeFstab(spec: GuestSpec, ids: GuestIds | undefined): PlanAction[] {
  return [
    { kind: 'write', path: '/etc/fstab', mode: 0o644, ...(ids ? { content: renderFstab(spec, ids) } : {}) },
  ];
}

/** Writes /etc/fstab. */
export async function applyFstab(c: CustomizeContext): Promise<void> {
  c.editor.writeFile('/etc/fstab', renderFstab(c.spec, c.ids), { mode: 0o644 });
}

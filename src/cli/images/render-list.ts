/** xen-list-images output: xen-tools' lines per guest, then xenkit's disk and state lines. */
import type { ListedGuest } from '../../images/list-images.js';
import { formatApproxSize } from '../../model/size.js';

/**
 * One guest as xen-tools prints it (`Name:`, `Memory: N MB`, `IP: A [MAC: M]` or `DHCP [MAC: M]`,
 * `Config:`), then `Disk:`, `State:` and `Clones:` lines. (xen-tools 4.9.2 meant to print the MAC
 * and DHCP too, but its regexes never match the cfgs it writes; the lines here are what it meant.)
 */
export function renderListedGuest(guest: ListedGuest): string {
  const mac = guest.mac ? ` [MAC: ${guest.mac}]` : '';
  const lines = [`Name: ${guest.name}`, `Memory: ${guest.memory} MB`];
  if (guest.ips.length > 0) lines.push(`IP: ${guest.ips.join(' ')}${mac}`);
  else if (guest.mode === 'dhcp') lines.push(`DHCP${mac}`);
  lines.push(`Config: ${guest.cfgPath}`);
  for (const disk of guest.disks) {
    if (!disk.exists) {
      lines.push(`Disk: ${disk.vdev} ${disk.path} (missing)`);
      continue;
    }
    const sizes = `${formatApproxSize(disk.virtualSize)}, ${formatApproxSize(disk.allocatedSize)} used`;
    const parent = disk.parent ? `, linked clone of ${disk.parent}` : '';
    const base = disk.isBase ? ', read-only base of linked clones' : '';
    lines.push(`Disk: ${disk.vdev} ${disk.path} (${disk.format}, ${sizes}${parent}${base})`);
  }
  const how = guest.running === 'image' ? 'its image is in use' : guest.running;
  lines.push(`State: ${guest.running ? `running (${how})` : 'stopped'}`);
  if (guest.clones.length > 0) lines.push(`Clones: ${guest.clones.join(', ')}`);
  if (guest.error) lines.push(`Error: ${guest.error}`);
  return `${lines.join('\n')}\n`;
}

/** Every guest, separated by a blank line as xen-list-images does. */
export function renderListedGuests(guests: readonly ListedGuest[]): string {
  return guests.map(renderListedGuest).join('\n');
}

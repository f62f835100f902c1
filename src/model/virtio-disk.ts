/**
 * How a cfg disk appears to a guest that sees virtio disks (QEMU, libvirt): its device name and
 * QEMU's block-driver name for its format. Shared by the QEMU argv and the libvirt domain XML.
 */

/** The guest's name for the virtio disk at `index` (0 -> vda, 25 -> vdz, 26 -> vdaa). */
export function virtioDiskName(index: number): string {
  let name = '';
  let n = index;
  do {
    name = String.fromCharCode(97 + (n % 26)) + name;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return `vd${name}`;
}

/** QEMU's block driver for an xl disk format (xl says vhd where QEMU says vpc). */
export function blockFormat(format: string): string {
  const f = format.toLowerCase();
  if (f === '' || f === 'raw') return 'raw';
  if (f === 'vhd') return 'vpc';
  return f;
}

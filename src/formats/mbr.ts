/**
 * The first sector of a whole-disk image: an MS-DOS (MBR) partition table behind the boot code of
 * a BIOS boot loader. Written by xenkit itself, not by sfdisk or parted on a loop device, so that
 * building an HVM disk needs no partition scanning of loop devices (which the kernel does not do
 * inside some containers) and no device at all. `sfdisk --json` reads it back the same (tests).
 */

export const SECTOR_SIZE = 512;
/** Where a BIOS boot loader's code ends and the disk signature starts (the MBR's 440 bytes of code). */
export const MBR_BOOT_CODE_SIZE = 440;

/** One primary partition, in 512-byte sectors. */
export interface MbrPartition {
  startSector: number;
  sectors: number;
  /** The partition type byte: 0x83 Linux, 0x82 Linux swap. */
  type: number;
  bootable: boolean;
}

/** The whole first sector. */
export interface MbrLayout {
  /** Up to 440 bytes of boot code (syslinux' mbr.bin); zeros when absent. */
  bootCode?: Uint8Array;
  /** The 32-bit disk identifier Linux shows as the PARTUUID prefix. */
  diskSignature: number;
  partitions: readonly MbrPartition[];
}

// CHS as BIOSes of the LBA era read it: 255 heads, 63 sectors a track; past cylinder 1023 the
// fields hold the maximum, as fdisk and sfdisk write them, and only the LBA fields count.
function chs(lba: number): [number, number, number] {
  const perCylinder = 255 * 63;
  const cylinder = Math.floor(lba / perCylinder);
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor((lba % perCylinder) / 63);
  const sector = (lba % 63) + 1;
  return [head, ((cylinder >> 2) & 0xc0) | sector, cylinder & 0xff];
}

/** Renders the 512-byte first sector; throws a RangeError for a table no MBR can hold. */
export function renderMbr(layout: MbrLayout): Buffer {
  const code = layout.bootCode ?? new Uint8Array();
  if (code.length > MBR_BOOT_CODE_SIZE)
    throw new RangeError(`boot code of ${code.length} bytes: an MBR holds ${MBR_BOOT_CODE_SIZE}`);
  if (layout.partitions.length > 4) throw new RangeError('an MBR holds 4 primary partitions');
  const sector = Buffer.alloc(SECTOR_SIZE);
  sector.set(code, 0);
  sector.writeUInt32LE(layout.diskSignature >>> 0, MBR_BOOT_CODE_SIZE);
  layout.partitions.forEach((p, index) => {
    const end = p.startSector + p.sectors - 1;
    if (p.startSector < 1 || p.sectors < 1 || end > 0xffffffff)
      throw new RangeError(`partition ${index + 1}: sectors ${p.startSector}-${end} do not fit an MBR`);
    const at = 446 + index * 16;
    sector[at] = p.bootable ? 0x80 : 0;
    sector.set(chs(p.startSector), at + 1);
    sector[at + 4] = p.type;
    sector.set(chs(end), at + 5);
    sector.writeUInt32LE(p.startSector, at + 8);
    sector.writeUInt32LE(p.sectors, at + 12);
  });
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

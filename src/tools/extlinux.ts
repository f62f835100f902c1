/**
 * extlinux (syslinux for ext2/3/4): the BIOS boot loader of xenkit's HVM disks, installed from
 * the host into the guest's mounted root filesystem. Its MBR code (mbr.bin, from syslinux-common)
 * goes in front of the partition table and loads the boot sector extlinux wrote into partition 1.
 */
import { existsSync } from 'node:fs';
import { runCommand, type ExecOptions } from './exec.js';

/** Where Debian's syslinux-common (and older layouts) put the MBR code. */
export const MBR_BIN_CANDIDATES: readonly string[] = [
  '/usr/lib/syslinux/mbr/mbr.bin',
  '/usr/lib/EXTLINUX/mbr.bin',
  '/usr/share/syslinux/mbr.bin',
];

/** The argv that installs extlinux into `dir` (a directory of a mounted filesystem). */
export function extlinuxInstallArgv(dir: string): string[] {
  return ['extlinux', '--install', dir];
}

/** Installs extlinux's boot sector and ldlinux.sys/.c32 into `dir` of a mounted filesystem. */
export async function installExtlinux(dir: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(extlinuxInstallArgv(dir), options);
}

/** The MBR boot code on this host, or undefined when syslinux-common is missing. */
export function findMbrBin(candidates: readonly string[] = MBR_BIN_CANDIDATES): string | undefined {
  return candidates.find((file) => existsSync(file));
}

/**
 * The guest's initramfs holds only what a Xen or QEMU guest needs to find and mount its root:
 * `MODULES=list` in a conf.d file plus a hook that adds the paravirtual and common emulated disk
 * drivers and the root filesystems xenkit makes. Debian's default, `MODULES=most`, copies most of
 * the kernel's storage and filesystem drivers: measured on bookworm (6.1, gzip because the tree
 * has no zstd) 31-40 s and 36 MB per generation against 3.4 s and 9.3 MB, and an install
 * generates it twice (the kernel's postinst, then the initramfs-tools trigger). Both files live
 * in the guest's /etc/initramfs-tools, so its owner can change them and run update-initramfs.
 *
 * A second hook narrows udev's coldplug in the initramfs to the devices that lead to a root disk:
 * Debian's scripts/init-top/udev asks the kernel to replay every device (serial ports, consoles,
 * input, ACPI, memory blocks, ...), and under TCG the initramfs spent some 3 s of emulated CPU
 * on those events alone, which systemd-udev-trigger replays once more after the root is mounted
 * (bench/RESULTS.md, fifth pass). The hook edits the initramfs's copy of that script, never the
 * package's, and leaves any other udev's script as it is.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Disk drivers (Xen PV, virtio, emulated SATA/IDE/SCSI, NVMe) and root filesystems (ext2/3 are
 * served by ext4). udev loads the disk driver that matches the hardware; `mount` makes the kernel
 * load the filesystem. Their dependencies (virtio_ring, libata, crc32c, ...) come along.
 */
export const GUEST_INITRAMFS_MODULES: readonly string[] = [
  'xen-blkfront',
  'virtio_pci',
  'virtio_blk',
  'virtio_scsi',
  'sd_mod',
  'ata_piix',
  'ahci',
  'nvme',
  'ext4',
  'xfs',
  'btrfs',
];

/** The conf.d file (guest path) that selects `MODULES=list`. */
export const INITRAMFS_CONF_FILE = 'etc/initramfs-tools/conf.d/xenkit-guest';
/** The hook (guest path) that adds GUEST_INITRAMFS_MODULES. */
export const INITRAMFS_HOOK_FILE = 'etc/initramfs-tools/hooks/xenkit-guest-modules';

/**
 * The device subsystems udev's coldplug in the initramfs replays: the controllers every disk
 * driver above binds to (PCI: virtio, NVMe, SATA, SCSI HBAs; the Xen bus: xen-blkfront), and the
 * virtio, SCSI and block devices a built-in driver made before udev started. Disks that appear
 * later (a driver loading) come as hot-plug events whatever is replayed.
 */
export const COLDPLUG_SUBSYSTEMS: readonly string[] = ['pci', 'xen', 'virtio', 'scsi', 'block'];

/** The hook (guest path) that narrows the initramfs's coldplug to COLDPLUG_SUBSYSTEMS. */
export const INITRAMFS_COLDPLUG_HOOK_FILE = 'etc/initramfs-tools/hooks/xenkit-guest-coldplug';

/** Debian's coldplug lines in scripts/init-top/udev (bullseye to trixie). */
const DEBIAN_SUBSYSTEMS_TRIGGER = 'udevadm trigger --type=subsystems --action=add';
const DEBIAN_DEVICES_TRIGGER = 'udevadm trigger --type=devices --action=add';

/** The conf.d file's text. */
export function renderInitramfsConf(): string {
  return [
    '# Written by xenkit: the initramfs holds only the modules that',
    `# /${INITRAMFS_HOOK_FILE} adds (the disk drivers of Xen and QEMU`,
    '# guests, ext4, xfs, btrfs) instead of most of the kernel. Set MODULES=most for',
    '# other hardware, then run: update-initramfs -u',
    'MODULES=list',
    '',
  ].join('\n');
}

/** The hook script's text (an initramfs-tools hook: `prereqs`, then manual_add_modules). */
export function renderInitramfsHook(modules: readonly string[] = GUEST_INITRAMFS_MODULES): string {
  return [
    '#!/bin/sh',
    '# Written by xenkit: the modules a Xen or QEMU guest needs to mount its root. udev loads',
    '# the disk driver, mount loads the filesystem. Edit the list, then run: update-initramfs -u',
    'PREREQ=""',
    'prereqs() { echo "$PREREQ"; }',
    'case "$1" in',
    'prereqs) prereqs; exit 0 ;;',
    'esac',
    '. /usr/share/initramfs-tools/hook-functions',
    `manual_add_modules ${modules.join(' ')}`,
    '',
  ].join('\n');
}

/**
 * The coldplug hook's text. It runs after mkinitramfs has copied the boot scripts into
 * `$DESTDIR`, and rewrites that copy only when it holds Debian's exact trigger line.
 */
export function renderColdplugHook(subsystems: readonly string[] = COLDPLUG_SUBSYSTEMS): string {
  const matches = subsystems.map((s) => `--subsystem-match=${s}`).join(' ');
  return [
    '#!/bin/sh',
    "# Written by xenkit: udev's coldplug in the initramfs asks only for the devices that lead",
    `# to a root disk (${subsystems.join(', ')}); the other devices wait for`,
    '# systemd-udev-trigger, which replays every device once the root is mounted. Under',
    '# emulation each event costs boot time. Delete this file and run update-initramfs -u',
    "# for udev's full coldplug.",
    'PREREQ=""',
    'prereqs() { echo "$PREREQ"; }',
    'case "$1" in',
    'prereqs) prereqs; exit 0 ;;',
    'esac',
    'script="${DESTDIR}/scripts/init-top/udev"',
    "# Another udev's script, without Debian's trigger line: left as it is.",
    `grep -qx '${DEBIAN_DEVICES_TRIGGER}' "$script" 2>/dev/null || exit 0`,
    `sed -i -e '/^${DEBIAN_SUBSYSTEMS_TRIGGER}$/d' \\`,
    `  -e 's/^${DEBIAN_DEVICES_TRIGGER}$/& ${matches}/' "$script"`,
    '',
  ].join('\n');
}

/** The guest paths writeGuestInitramfsConfig writes, for `--dry-run`. */
export function guestInitramfsFiles(): { path: string; mode: number; content: string }[] {
  return [
    { path: INITRAMFS_CONF_FILE, mode: 0o644, content: renderInitramfsConf() },
    { path: INITRAMFS_HOOK_FILE, mode: 0o755, content: renderInitramfsHook() },
    { path: INITRAMFS_COLDPLUG_HOOK_FILE, mode: 0o755, content: renderColdplugHook() },
  ];
}

/**
 * sha256 of the files above (paths, modes, text): part of the root-tree cache key, so a tree
 * whose initramfs was built from another configuration is not taken from the cache.
 */
export function guestInitramfsConfigSha256(): string {
  const hash = createHash('sha256');
  for (const file of guestInitramfsFiles()) hash.update(`${file.path}\0${file.mode}\0${file.content}\0`);
  return hash.digest('hex');
}

/**
 * Writes the files under `root` (a guest tree, or a host directory that is copied into one),
 * creating `etc/initramfs-tools/{conf.d,hooks}` with the modes the package gives them.
 */
export async function writeGuestInitramfsConfig(root: string): Promise<string[]> {
  const written: string[] = [];
  for (const file of guestInitramfsFiles()) {
    const full = path.join(root, file.path);
    for (const dir of ['etc', 'etc/initramfs-tools', path.dirname(file.path)]) {
      // chmod too: a strict umask must not leave the guest's /etc unreadable.
      await mkdir(path.join(root, dir), { recursive: true, mode: 0o755 });
      await chmod(path.join(root, dir), 0o755);
    }
    await writeFile(full, file.content, { mode: file.mode });
    // writeFile's mode is filtered by the umask; the hook must be executable for mkinitramfs.
    await chmod(full, file.mode);
    written.push(full);
  }
  return written;
}

/** Whether an install includes a Debian or Ubuntu kernel package (and so builds an initramfs). */
export function installsKernel(include: readonly string[]): boolean {
  return include.some((name) => name.startsWith('linux-image-'));
}

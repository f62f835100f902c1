/**
 * The Xen VM test's HVM guest, built on the host: the real xen-create-image --type=hvm (a
 * whole-disk image: partition table, extlinux in the MBR and partition 1, the guest's /boot
 * holding the Debian kernel and the busybox ramdisk of xen-hvm-guest.ts) in a scratch root. The
 * image is then attached to the Xen VM as a disk, and dom0 only starts it. Built in the nested,
 * emulated dom0 this took 80-110 s of the VM job, every second of it serial; here it takes a few.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../src/tools/exec.js';
import { runBin, type CliResult } from '../helpers/cli.js';

/** What the host made for the HVM guest. */
export interface XenHvmImage {
  /** xen-create-image's result. */
  create: CliResult;
  /** The whole-disk image (attach it to the VM). */
  disk: string;
  /** The cfg xen-create-image wrote (its disk line names `disk`). */
  cfg: string;
  /** The exit status of adding `quiet` to the guest's extlinux.conf (0 when done). */
  quiet: number;
}

/** Partition 1 of the image starts at 1 MiB (the layout xen-create-image writes for hvm). */
const PARTITION_OFFSET = 1024 * 1024;

/**
 * Builds guest `name` under `workDir` from the small tree tarball plus the kernel and ramdisk as
 * the guest's own /boot files, then adds `quiet` to its extlinux.conf's APPEND line: the nested
 * Xen's emulated UART takes about 70 bytes/s, and the ~40 KB a Debian kernel prints at boot held
 * the boot for over ten minutes.
 */
export async function buildXenHvmImage(options: {
  workDir: string;
  name: string;
  tarball: string;
  kernel: string;
  initramfs: string;
}): Promise<XenHvmImage> {
  const { workDir, name, tarball, kernel, initramfs } = options;
  const root = path.join(workDir, 'root');
  for (const dir of ['etc/xen', 'etc/xen-tools', 'srv/xen'])
    fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.writeFileSync(path.join(root, 'pw'), 'Correct-Horse-7-Battery\n', { mode: 0o600 });
  // The guest's own kernel and ramdisk under /boot of its tree, as a kernel package puts them.
  const boot = path.join(workDir, 'boot-files');
  fs.mkdirSync(path.join(boot, 'boot'), { recursive: true });
  fs.copyFileSync(kernel, path.join(boot, 'boot/vmlinuz-6.1.0-hvm'));
  fs.copyFileSync(initramfs, path.join(boot, 'boot/initrd.img-6.1.0-hvm'));
  const tree = path.join(root, 'hvm-tree.tar');
  fs.copyFileSync(tarball, tree);
  await runCommand([
    'tar',
    '-rf',
    tree,
    '-C',
    boot,
    './boot/vmlinuz-6.1.0-hvm',
    './boot/initrd.img-6.1.0-hvm',
  ]);
  const create = await runBin(
    'xen-create-image',
    [
      `--root=${root}`,
      `--hostname=${name}`,
      '--type=hvm',
      '--dir=/srv/xen',
      '--size=128M',
      '--noswap',
      '--memory=256M',
      '--vcpus=1',
      '--dhcp',
      '--install-method=tar',
      '--install-source=/hvm-tree.tar',
      '--dist=bookworm',
      '--password-file=/pw',
    ],
    { timeoutMs: 300_000 },
  );
  fs.rmSync(tree, { force: true });
  const disk = path.join(root, 'srv/xen/domains', name, 'disk.img');
  const cfg = path.join(root, 'etc/xen', `${name}.cfg`);
  const quiet = create.code === 0 ? await addQuiet(disk, path.join(workDir, 'mnt')) : 1;
  return { create, disk, cfg, quiet };
}

/** Adds `quiet` to the APPEND line of extlinux.conf in the image's partition 1. */
async function addQuiet(disk: string, mountPoint: string): Promise<number> {
  fs.mkdirSync(mountPoint, { recursive: true });
  const loop = (
    await runCommand(['losetup', '-f', '--show', '-o', String(PARTITION_OFFSET), disk])
  ).stdout.trim();
  try {
    await runCommand(['mount', loop, mountPoint]);
    try {
      const conf = path.join(mountPoint, 'boot/extlinux/extlinux.conf');
      const text = fs.readFileSync(conf, 'utf8');
      const changed = text.replace(/^( *APPEND .*)$/m, '$1 quiet');
      if (changed === text) return 1;
      fs.writeFileSync(conf, changed);
      return 0;
    } finally {
      await runCommand(['umount', mountPoint]);
    }
  } finally {
    await runCommand(['losetup', '-d', loop]);
  }
}

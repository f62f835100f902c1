/**
 * The kernel and initrd a guest boots under QEMU (the QEMU and libvirt drivers): the cfg's own, or
 * the guest's (pygrub style, copied out of its root disk into `cacheDir`), or none for HVM.
 */
import { existsSync } from 'node:fs';
import { usageError } from '../../errors.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { extractGuestKernel } from './guest-kernel.js';
import { locateXenDevice } from './kernel-cmdline.js';

/**
 * Which kernel to boot: the cfg's kernel (a host path) unless a bootloader is named; the
 * guest's own (pygrub style) for a bootloader or a pv/pvh guest without a kernel; none for an
 * HVM guest, which boots its disk through the firmware.
 */
export async function resolveBootFiles(
  dc: DomainConfig,
  cacheDir: string,
): Promise<{ kernel?: string; initrd?: string }> {
  if (dc.kernel !== undefined && dc.kernel !== '' && (dc.bootloader === undefined || dc.bootloader === '')) {
    for (const file of [dc.kernel, dc.ramdisk]) {
      if (file !== undefined && !existsSync(file)) {
        throw usageError(
          'E_KERNEL',
          `guest "${dc.name}": kernel file ${file} does not exist`,
          "fix kernel/ramdisk in the cfg, or use bootloader = 'pygrub'",
        );
      }
    }
    return { kernel: dc.kernel, ...(dc.ramdisk ? { initrd: dc.ramdisk } : {}) };
  }
  if (dc.type === 'hvm' && (dc.bootloader === undefined || dc.bootloader === '')) return {};
  const disk = rootDisk(dc);
  if (!disk) {
    throw usageError(
      'E_KERNEL',
      `guest "${dc.name}" has no kernel and no disk to take one from`,
      "add kernel = '...' or a disk",
    );
  }
  const files = await extractGuestKernel(disk, cacheDir, dc.name);
  return { kernel: files.kernel, ...(files.initrd ? { initrd: files.initrd } : {}) };
}

/** The disk holding `/`: the one root= names, else the first disk. */
function rootDisk(dc: DomainConfig): DomainConfig['disks'][number] | undefined {
  const disks = dc.disks.filter((d) => !d.isCdrom);
  const root = /(?:^|\s)root=(\S+)/.exec(dc.cmdline ?? '')?.[1] ?? dc.root?.trim().split(/\s+/)[0];
  const found = root === undefined ? undefined : locateXenDevice(root, disks);
  return disks[found?.index ?? 0];
}

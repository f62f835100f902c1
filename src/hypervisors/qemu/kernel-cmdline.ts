/**
 * The guest kernel command line under QEMU: xl's `root`/`extra`/`cmdline` with Xen device names
 * (`/dev/xvda2`) rewritten to the virtio names the guest will see, and `console=ttyS0` appended.
 *
 * Disks become virtio-blk devices in cfg order, so the N-th disk of the cfg is `/dev/vd{a+N}`
 * (QEMU assigns PCI slots in argv order and virtio_blk names disks in probe order). A cfg disk
 * whose vdev is a partition name (`xvda2`, the xen-tools layout: one filesystem image per
 * "partition") is a whole virtio disk, so `root=/dev/xvda2` becomes `root=/dev/vda`; a disk whose
 * vdev is a whole disk (`xvda`) keeps partition numbers (`/dev/xvda1` -> `/dev/vda1`).
 * `UUID=`, `LABEL=`, `PARTUUID=` and other roots are left alone: they are portable already.
 *
 * `quiet` is added unless the command line already sets how much the kernel prints (`quiet`,
 * `loglevel=`, `debug`, `ignore_loglevel`): under TCG every byte on the emulated 8250 is a port
 * write QEMU traps, and a Debian boot prints some 50 KB there (every kernel line, then each
 * systemd status line twice: once through the kernel log before journald starts, once as status).
 *
 * Under TCG `cryptomgr.notests` is added too, unless the command line names that parameter: the
 * kernel then registers its crypto algorithms without first running each one's known-answer
 * self-test (the switch exists for short-lived virtual machines). Debian's kernel runs the tests,
 * and under TCG those of the SIMD implementations that udev loads by CPU feature (aesni_intel
 * alone: 5-10 s of guest time at boot) are among the biggest single items of a boot
 * (bench/RESULTS.md). What is lost: a broken implementation (a kernel bug, or an instruction QEMU
 * emulates wrongly) is no longer caught and replaced by the generic code at registration.
 * `fips=1` runs the tests anyway, and `extra = 'cryptomgr.notests=0'` keeps them.
 *
 * Under TCG `mitigations=off` is added as well, unless the command line chooses a CPU
 * vulnerability mitigation itself (`mitigations=`, `spectre_v2=`, `pti=`, ...). The emulated CPU
 * does not execute speculatively: QEMU runs the guest's instructions one after another through
 * its translator, so the guest kernel's defenses against speculative execution (retpolines,
 * the usercopy/swapgs barriers, RSB filling: what Debian's kernel turns on for QEMU's `max` CPU)
 * guard against nothing there, and TCG translates an `lfence` to no host instruction at all.
 * They only cost: about 5% of QEMU's CPU to the login prompt (bench/RESULTS.md). Defenses that
 * are not about speculation (`init_on_alloc`, hardened usercopy, ...) are untouched, and under
 * KVM or Xen, where the CPU is real, the kernel decides as usual. `extra = 'mitigations=auto'`
 * keeps them under TCG too.
 */
import type { DiskConfig, DomainConfig } from '../../model/domain-config.js';
import { virtioDiskName } from '../../model/virtio-disk.js';

export { virtioDiskName };

const DEVICE_NAME = /^(?:\/dev\/)?(xvd|hd|sd|vd)([a-z]+)(\d*)$/;

/**
 * Which non-CD disk of the cfg backs a Xen-style device name (`/dev/xvda2`), and the partition
 * number left over when the cfg disk is a whole disk; undefined when no cfg disk backs it.
 */
export function locateXenDevice(
  device: string,
  disks: readonly DiskConfig[],
): { index: number; partition: string } | undefined {
  const match = DEVICE_NAME.exec(device);
  if (!match) return undefined;
  const [, , letters = '', partition = ''] = match;
  const disksOnly = disks.filter((d) => !d.isCdrom);
  const bare = (vdev: string): string => vdev.replace(/^\/dev\//, '');
  const wanted = bare(device);
  const exact = disksOnly.findIndex((d) => bare(d.vdev) === wanted);
  if (exact >= 0) return { index: exact, partition: '' };
  if (partition !== '') {
    const whole = disksOnly.findIndex((d) => {
      const m = DEVICE_NAME.exec(bare(d.vdev));
      return m !== null && m[2] === letters && m[3] === '';
    });
    if (whole >= 0) return { index: whole, partition };
  }
  return undefined;
}

/** The virtio name of one Xen-style device (`/dev/xvda2` -> `/dev/vda`), or undefined. */
export function mapXenDevice(device: string, disks: readonly DiskConfig[]): string | undefined {
  const found = locateXenDevice(device, disks);
  return found ? `/dev/${virtioDiskName(found.index)}${found.partition}` : undefined;
}

/** Rewrites every `root=/dev/xvdXN` (and `resume=`) in a command line to the virtio name. */
export function rewriteRootDevices(cmdline: string, disks: readonly DiskConfig[]): string {
  return cmdline
    .split(/\s+/)
    .filter((word) => word !== '')
    .map((word) => {
      const m = /^(root|resume)=(.*)$/.exec(word);
      if (!m) return word;
      const mapped = mapXenDevice(m[2] ?? '', disks);
      return mapped ? `${m[1]}=${mapped}` : word;
    })
    .join(' ');
}

/** Words that already choose how verbose the kernel (and systemd) are on the console. */
const VERBOSITY = /^(?:quiet|debug|ignore_loglevel|loglevel=.*)$/;

/** The crypto self-test switch, with or without a value. */
const SELF_TESTS = /^cryptomgr\.notests(?:=.*)?$/;

/** Parameters that choose a CPU vulnerability mitigation (Documentation/admin-guide/kernel-parameters). */
const MITIGATION =
  /^(?:mitigations|spectre_v2|spectre_v2_user|spectre_bhi|nospectre_v1|nospectre_v2|pti|nopti|spec_store_bypass_disable|nospec_store_bypass_disable|retbleed|spec_rstack_overflow|mds|tsx_async_abort|mmio_stale_data|l1tf|srbds|gather_data_sampling|reg_file_data_sampling)(?:=.*)?$/;

/** What about the host changes the command line. */
export interface KernelCmdlineOptions {
  /**
   * The guest runs under TCG (emulated CPU): its crypto self-tests are skipped and its
   * speculative-execution mitigations off, see above.
   */
  tcg?: boolean;
}

/**
 * The full command line: xl uses `cmdline` as it is when given, else `root=ROOT EXTRA`; device
 * names are then mapped, `quiet` added unless verbosity is chosen already (and under TCG
 * `cryptomgr.notests` and `mitigations=off` unless those are chosen), and `console=ttyS0` comes
 * last so the serial port is /dev/console.
 */
export function buildKernelCmdline(dc: DomainConfig, opts: KernelCmdlineOptions = {}): string {
  const base =
    dc.cmdline ??
    [dc.root !== undefined && dc.root !== '' ? `root=${dc.root}` : '', dc.extra ?? '']
      .filter((part) => part.trim() !== '')
      .join(' ');
  const mapped = rewriteRootDevices(base, dc.disks);
  const words = mapped === '' ? [] : mapped.split(' ');
  if (!words.some((word) => VERBOSITY.test(word))) words.push('quiet');
  if (opts.tcg === true && !words.some((word) => SELF_TESTS.test(word))) words.push('cryptomgr.notests');
  if (opts.tcg === true && !words.some((word) => MITIGATION.test(word))) words.push('mitigations=off');
  // Xen consoles (hvc0, xvc0) do not exist under QEMU; a later console= wins for /dev/console.
  if (words.at(-1) !== 'console=ttyS0') words.push('console=ttyS0');
  return words.join(' ');
}

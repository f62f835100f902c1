/**
 * DomainConfig: a hypervisor-neutral view of an xl.cfg domain config, as parsed from
 * `/etc/xen/NAME.cfg` and consumed by the hypervisor drivers (xl, qemu).
 */

export interface DiskConfig {
  /** Image file or block device on the host. */
  target: string;
  /** raw, qcow2, ... (xl's `format=`). */
  format: string;
  /** Guest device name (`xvda2`, `xvda`, `hda`, `sda1`). */
  vdev: string;
  access: 'rw' | 'ro';
  /** A CD-ROM rather than a disk. */
  isCdrom: boolean;
  /** The original disk spec string from the cfg. */
  raw: string;
}

export interface VifConfig {
  mac: string | undefined;
  bridge: string | undefined;
  ip: string | undefined;
  vifname: string | undefined;
  model: string | undefined;
  raw: string;
}

export type LifecycleAction =
  | 'destroy'
  | 'restart'
  | 'rename-restart'
  | 'preserve'
  | 'coredump-destroy'
  | 'coredump-restart'
  | 'soft-reset';

export interface DomainConfig {
  name: string;
  type: 'pv' | 'pvh' | 'hvm';
  /** MiB. */
  memory: number;
  /** MiB; equals memory when absent. */
  maxmem: number;
  vcpus: number;
  /** Upper bound for vcpu-set; equals vcpus when absent. */
  maxvcpus: number;
  kernel: string | undefined;
  ramdisk: string | undefined;
  /** Kernel command line pieces: `root` and `extra`, kept apart as xl keeps them. */
  root: string | undefined;
  extra: string | undefined;
  cmdline: string | undefined;
  /** `bootloader = 'pygrub'` (boot the guest's own kernel). */
  bootloader: string | undefined;
  disks: DiskConfig[];
  vifs: VifConfig[];
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
  /**
   * `xenkit_tcg_cache`: MiB of translation cache for a guest QEMU emulates (TCG); the QEMU driver's
   * and libvirt drivers' default when absent (libvirt: `<tcg><tb-cache>`). xenkit's own key: xl ignores it.
   */
  tcgCacheMiB?: number;
  /** Every key of the file, as parsed, for what the fields above do not model. */
  raw: Record<string, XlValue>;
}

/** A value in xl.cfg syntax: string, number, boolean-ish number, or list. */
export type XlValue = string | number | XlValue[];

/**
 * TCG's translation cache, MiB, when the cfg has no `xenkit_tcg_cache`. QEMU reserves 1 GiB by default
 * and a Debian boot fills some 350-390 MiB of it, all resident for the guest's lifetime. A
 * smaller cache is flushed and refilled instead: 32 MiB made the boot 10-40% slower on a quiet
 * host, 64 MiB cost 4-14% more QEMU CPU to the login prompt (6 pairs of boots at load 3-8), 96
 * MiB did not (bench/RESULTS.md).
 */
export const TCG_CACHE_DEFAULT_MIB = 96;

/** The sizes `xenkit_tcg_cache` may take, MiB: below 16 a Debian boot is flushed over and over. */
export const TCG_CACHE_MIB_RANGE = { min: 16, max: 4096 } as const;

/**
 * Whether vCPUs can be hot-added to the guest (`xm vcpu-set` above vcpus, up to maxvcpus). Under
 * multi-threaded TCG each added vCPU needs a free region of the translation cache, so the QEMU
 * driver runs such a guest single-threaded and the libvirt driver keeps QEMU's 1 GiB cache.
 */
export function canGainVcpus(dc: Pick<DomainConfig, 'vcpus' | 'maxvcpus'>): boolean {
  return dc.maxvcpus > dc.vcpus;
}

/** libxl's memory when the cfg names neither memory nor maxmem (MiB). */
export const XL_DEFAULT_MEMORY_MIB = 32;

/**
 * A DomainConfig for `name` with `fields` and xl's defaults for the rest: a PV guest with libxl's
 * memory (maxmem = memory) and one vCPU (maxvcpus = vcpus), no kernel, bootloader, disks or NICs,
 * destroyed on poweroff and crash, restarted on reboot. For configs not read from an xl.cfg: a
 * guest rebuilt from its QEMU command line, a test's.
 */
export function defaultDomainConfig(name: string, fields: Partial<DomainConfig> = {}): DomainConfig {
  const memory = fields.memory ?? fields.maxmem ?? XL_DEFAULT_MEMORY_MIB;
  const vcpus = fields.vcpus ?? 1;
  return {
    type: 'pv',
    kernel: undefined,
    ramdisk: undefined,
    root: undefined,
    extra: undefined,
    cmdline: undefined,
    bootloader: undefined,
    disks: [],
    vifs: [],
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    raw: {},
    ...fields,
    name,
    memory,
    maxmem: fields.maxmem ?? memory,
    vcpus,
    maxvcpus: fields.maxvcpus ?? vcpus,
  };
}

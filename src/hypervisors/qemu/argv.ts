/**
 * DomainConfig -> the qemu-system-x86_64 command line. Pure (no host access) and golden-tested.
 *
 * Choices, with reasons:
 * - `-machine q35`: the machine libvirt/virt-install pick for new x86 guests (PCIe); both
 *   q35 and pc support ACPI CPU hotplug and virtio, and Debian kernels boot either way. Its
 *   SMBus, PS/2 and (without a CD-ROM) AHCI controllers are left out (machineOption).
 * - Memory: the guest gets `maxmem` of RAM and the driver balloons it down to `memory` before the
 *   first instruction runs, which is how Xen's memory/maxmem behave (mem-set moves within that
 *   range). `-m size=,maxmem=,slots=` would be DIMM hotplug, which mem-set does not need.
 * - `-S` always: the driver attaches taps and sets the balloon target, then sends `cont`.
 * - NICs without a bridge: QEMU's own `-netdev user` (the driver starts QEMU in a network
 *   namespace of its own unless `xenkit_host_loopback = 1`); in a guest that also has a bridged
 *   NIC, `-netdev stream` to passt. Both keep the guest away from the host's loopback services
 *   (see user-net.ts).
 * - Two QMP monitors: `qmp.sock` for commands, and a `-chardev pipe` whose output is a plain
 *   file (`events.out`) collecting every QMP event for the guest's lifetime, with no process of
 *   ours attached (the registry counts guest resets there to give rebooted guests new IDs).
 */
import {
  canGainVcpus,
  TCG_CACHE_DEFAULT_MIB,
  type DiskConfig,
  type DomainConfig,
  type LifecycleAction,
  type VifConfig,
} from '../../model/domain-config.js';
import { ErrorCollector } from '../../errors.js';
import { blockFormat } from '../../model/virtio-disk.js';
import { hotplugPortArgs } from './hotplug-ports.js';
import { buildKernelCmdline } from './kernel-cmdline.js';
import type { RuntimePaths } from './runtime-paths.js';
import { allowsHostLoopback, HOST_LOOPBACK_KEY, userNetMode, userNetSocket } from './user-net.js';

export { blockFormat };

/** How a guest is accelerated: KVM when the CPU really has it, TCG (emulation) otherwise. */
export type AccelKind = 'kvm' | 'tcg';

/** What buildQemuArgv needs besides the domain config. */
export interface QemuArgvOptions {
  accel: AccelKind;
  /** Kernel/initrd on the host (from the cfg, or extracted from the guest image). */
  kernel?: string | undefined;
  initrd?: string | undefined;
  /** Per cfg vif, in order: the tap device to use, or undefined for user-mode networking. */
  taps?: readonly (string | undefined)[];
  /** Defaults to `qemu-system-x86_64`. */
  binary?: string;
  /** The CPUID flag names the binary knows (`-cpu help`), for tcgCpuModel. */
  cpuFlags?: ReadonlySet<string> | undefined;
}

/**
 * The CPU under TCG: everything QEMU emulates. A guest whose kernel QEMU loads itself (-kernel,
 * the PVH entry) gets it without the virtualization extensions, which would only make it load
 * kvm, kvm_amd and ccp at boot. A guest booted by the firmware from its disk (--type=hvm) keeps
 * them: with them off, its kernel failed every static binary of its initramfs (glibc's
 * `_dl_get_origin` assertion) under QEMU 7.2 (seen in the root test). A QMP socket closed on a
 * vCPU hot-plug, once blamed on the CPU model, was multi-threaded TCG's region abort (see
 * tcgThreading), whatever the model.
 *
 * Without the fast string flags in either: TCG runs a `rep movsb`/`rep stosb` one byte per
 * iteration of its REP loop, and with ERMS (enhanced REP MOVSB/STOSB) the guest's kernel clears and
 * copies pages and user buffers that way (glibc too, above a few KiB): `dd` from /dev/zero to
 * /dev/null of 300 MiB took 2.2-2.5 s in the guest with it and 0.41-0.49 s without, and a boot
 * to the login prompt 10% less QEMU CPU (median of 5 pairs, bench/RESULTS.md). QEMUs after 7.2
 * (10.0 here) add FSRM, FSRS, FZRM and FSRC (fast short REP MOV, STOS, zero-length MOV, CMPS/SCAS) to `max`,
 * and with FSRM Debian 12's kernel copies with `rep movsb` whatever the length: under QEMU 10.0
 * it never got past `LSM: Security Framework initializing` (still there after two minutes),
 * and with `fsrm=off` it boots. Newer kernels clear user memory with `rep stosb` when FSRS is
 * set. The flags are only hints: without them the same code takes its 8-byte or vector loops.
 * Each is turned off where this QEMU knows its name (`-cpu help`; QEMU 7.2 knows ERMS and FSRM,
 * and names a flag it does not know a fatal error).
 */
export const TCG_STRING_FLAGS = ['erms', 'fsrm', 'fsrs', 'fzrm', 'fsrc'] as const;

/**
 * The `-cpu` value under TCG: `max` less the virtualization extensions for a kernel QEMU loads,
 * less each of TCG_STRING_FLAGS that `knownFlags` (the QEMU's `-cpu help`) names; when the QEMU's
 * list is unknown, ERMS only (every QEMU xenkit runs on knows it).
 */
export function tcgCpuModel(kernelBoot: boolean, knownFlags?: ReadonlySet<string>): string {
  const off = TCG_STRING_FLAGS.filter((flag) => (knownFlags ? knownFlags.has(flag) : flag === 'erms'));
  return ['max', ...(kernelBoot ? ['svm=off', 'vmx=off'] : []), ...off.map((flag) => `${flag}=off`)].join(
    ',',
  );
}

/**
 * q35 without the devices a xenkit guest never uses, each of which the guest probes and loads
 * modules for at boot: the SMBus controller (i2c_i801) and, unless a CD-ROM hangs on it, the AHCI
 * controller (ahci, libata, scsi_mod, and six SATA ports probed). Disks are virtio. The PS/2
 * controller stays: its keyboard is how `xm sysrq` (QMP send-key) reaches the guest's kernel.
 */
export function machineOption(dc: DomainConfig): string {
  const sata = dc.disks.some((d) => d.isCdrom) ? '' : ',sata=off';
  return `q35,smbus=off${sata}`;
}

/** The default emulator for x86_64 guests. */
export const QEMU_BINARY = 'qemu-system-x86_64';

/** QEMU's option parser splits on commas; a literal comma is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replace(/,/g, ',,');
}

/**
 * TCG's threading for `dc`. `multi` gives each vCPU its own host thread, so 2 vCPUs can use both
 * host cores; but multi-threaded TCG hands its translation cache out in regions, and a vCPU
 * thread started later (a CPU hot-added by `xm vcpu-set`) takes a free one or QEMU aborts
 * (tcg/region.c: "tcg_region_initial_alloc__locked: assertion failed"), which it is whenever the
 * running vCPUs have filled the cache since its last flush: the guest dies on a vcpu-set, now and
 * then. One thread (`single`) has one region that every vCPU shares, so a guest that can gain
 * vCPUs (maxvcpus above vcpus) runs its vCPUs in turn on one host thread, and the others get one
 * each.
 */
export function tcgThreading(dc: Pick<DomainConfig, 'vcpus' | 'maxvcpus'>): 'multi' | 'single' {
  return canGainVcpus(dc) ? 'single' : 'multi';
}

/** The full argv (binary first) that starts `dc` daemonized, stopped (`-S`), with its sockets in `rt`. */
export function buildQemuArgv(dc: DomainConfig, rt: RuntimePaths, opts: QemuArgvOptions): string[] {
  checkLimits(dc);
  const e = escapeOptionValue;
  const argv: string[] = [opts.binary ?? QEMU_BINARY];
  argv.push('-name', `${e(dc.name)},debug-threads=on`);
  argv.push('-machine', machineOption(dc));
  argv.push(
    '-accel',
    opts.accel === 'kvm'
      ? 'kvm'
      : `tcg,thread=${tcgThreading(dc)},tb-size=${dc.tcgCacheMiB ?? TCG_CACHE_DEFAULT_MIB}`,
  );
  argv.push('-cpu', opts.accel === 'kvm' ? 'host' : tcgCpuModel(opts.kernel !== undefined, opts.cpuFlags));
  argv.push('-m', `${dc.maxmem}M`);
  argv.push('-smp', `${dc.vcpus},maxcpus=${dc.maxvcpus}`);
  argv.push('-nodefaults', '-no-user-config', '-display', 'none', '-rtc', 'base=utc');
  if (opts.kernel !== undefined) {
    argv.push('-kernel', opts.kernel);
    if (opts.initrd !== undefined) argv.push('-initrd', opts.initrd);
    argv.push('-append', buildKernelCmdline(dc, { tcg: opts.accel === 'tcg' }));
  } else {
    argv.push('-boot', 'order=c');
  }
  let cdroms = 0;
  dc.disks.forEach((disk, index) => argv.push(...diskArgs(disk, index, disk.isCdrom ? cdroms++ : 0)));
  const userNet = (index: number): string =>
    userNetMode(dc, opts.taps) === 'passt'
      ? `stream,id=net${index},server=off,addr.type=unix,addr.path=${e(userNetSocket(rt, index))}`
      : `user,id=net${index}`;
  dc.vifs.forEach((vif, index) => argv.push(...nicArgs(vif, index, opts.taps?.[index], userNet(index))));
  argv.push(...hotplugPortArgs());
  argv.push('-object', 'rng-random,id=rng0,filename=/dev/urandom');
  argv.push('-device', 'virtio-rng-pci,rng=rng0,id=rng0-dev');
  argv.push('-device', 'virtio-balloon-pci,id=balloon0');
  // Lets the guest report a kernel panic to QEMU, so on_crash can act on it.
  argv.push('-device', 'pvpanic');
  argv.push(
    '-chardev',
    `socket,id=con0,path=${e(rt.consoleSocket)},server=on,wait=off,logfile=${e(rt.consoleLog)},logappend=on`,
  );
  argv.push('-serial', 'chardev:con0');
  argv.push('-chardev', `socket,id=qmp0,path=${e(rt.qmpSocket)},server=on,wait=off`);
  argv.push('-mon', 'chardev=qmp0,mode=control');
  argv.push('-chardev', `pipe,id=qmpev,path=${e(rt.eventsBase)}`);
  argv.push('-mon', 'chardev=qmpev,mode=control');
  argv.push('-action', lifecycleActions(dc));
  // With -D, a daemonized QEMU keeps its stderr (warnings, its last words) in that file, not /dev/null.
  argv.push('-D', rt.qemuLog);
  argv.push('-S', '-daemonize', '-pidfile', rt.pidfile);
  return argv;
}

function checkLimits(dc: DomainConfig): void {
  const errors = new ErrorCollector();
  const who = `guest "${dc.name}"`;
  if (dc.memory < 1)
    errors.add('E_QEMU_CONFIG', `${who}: memory ${dc.memory} MiB is too small`, 'set memory in MiB');
  if (dc.maxmem < dc.memory) {
    errors.add(
      'E_QEMU_CONFIG',
      `${who}: maxmem ${dc.maxmem} is below memory ${dc.memory}`,
      'raise maxmem or drop it',
    );
  }
  if (dc.vcpus < 1)
    errors.add('E_QEMU_CONFIG', `${who}: vcpus ${dc.vcpus} is below 1`, 'set vcpus = 1 or more');
  if (allowsHostLoopback(dc) === undefined) {
    errors.add(
      'E_QEMU_CONFIG',
      `${who}: ${HOST_LOOPBACK_KEY} = ${JSON.stringify(dc.raw[HOST_LOOPBACK_KEY])} is not 0 or 1`,
      `set ${HOST_LOOPBACK_KEY} = 1 to let the guest reach the host's 127.0.0.1 services, or drop it (the default keeps it away)`,
    );
  }
  if (dc.maxvcpus < dc.vcpus) {
    errors.add(
      'E_QEMU_CONFIG',
      `${who}: maxvcpus ${dc.maxvcpus} is below vcpus ${dc.vcpus}`,
      'raise maxvcpus',
    );
  }
  errors.throwIfAny();
}

function diskArgs(disk: DiskConfig, index: number, cdrom: number): string[] {
  const e = escapeOptionValue;
  const ro = disk.access === 'ro' || disk.isCdrom ? ',read-only=on' : '';
  const protocol = disk.target.startsWith('/dev/') ? 'host_device' : 'file';
  const id = `disk${index}`;
  const discard = disk.isCdrom ? '' : ',discard=unmap';
  const device = disk.isCdrom
    ? `ide-cd,drive=${id},id=${id}-dev,bus=ide.${cdrom}`
    : `virtio-blk-pci,drive=${id},id=${id}-dev`;
  return [
    '-blockdev',
    `driver=${protocol},filename=${e(disk.target)},node-name=${id}-file${ro}${discard}`,
    '-blockdev',
    `driver=${blockFormat(disk.format)},file=${id}-file,node-name=${id}${ro}${discard}`,
    '-device',
    device,
  ];
}

/** QEMU's NIC model for xl's `model=` (virtio unless the cfg names an emulated card). */
export function nicModel(model: string | undefined): string {
  if (model === 'e1000' || model === 'rtl8139') return model;
  return 'virtio-net-pci';
}

function nicArgs(vif: VifConfig, index: number, tap: string | undefined, userNet: string): string[] {
  const id = `net${index}`;
  const netdev = tap === undefined ? userNet : `tap,id=${id},ifname=${tap},script=no,downscript=no`;
  const mac = vif.mac === undefined ? '' : `,mac=${vif.mac.toLowerCase()}`;
  return ['-netdev', netdev, '-device', `${nicModel(vif.model)},netdev=${id},id=${id}-dev${mac}`];
}

function isRestart(action: LifecycleAction): boolean {
  return (
    action === 'restart' ||
    action === 'rename-restart' ||
    action === 'coredump-restart' ||
    action === 'soft-reset'
  );
}

/**
 * `-action` for xl's on_poweroff/on_reboot/on_crash. QEMU can reset in place, stop (keep the
 * domain in the shutdown state: xl's preserve) or exit; it cannot restart after a power-off,
 * so on_poweroff=restart powers off (there is no daemon of ours to start it again).
 */
export function lifecycleActions(dc: DomainConfig): string {
  const reboot = isRestart(dc.onReboot) ? 'reset' : 'shutdown';
  const shutdown = dc.onPoweroff === 'preserve' || dc.onReboot === 'preserve' ? 'pause' : 'poweroff';
  const panic = dc.onCrash === 'preserve' ? 'pause' : isRestart(dc.onCrash) ? 'none' : 'exit-failure';
  return `reboot=${reboot},shutdown=${shutdown},panic=${panic}`;
}

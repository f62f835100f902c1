/**
 * The hypervisor driver interface: what `xm`/`xenkit` verbs need from Xen's xl or from QEMU.
 * Drivers are chosen by `detectDriver` (shown by `xenkit info`) and can be overridden.
 */
import type { DiskConfig, DomainConfig, VifConfig } from '../model/domain-config.js';
import type { BlockDevice, DomainInfo, NetworkDevice, SchedParams, VcpuInfo } from '../model/domain-state.js';

export type {
  BlockDevice,
  DomainInfo,
  DomainState,
  NetworkDevice,
  SchedParams,
  VcpuInfo,
} from '../model/domain-state.js';

export interface CreateOptions {
  cfgPath: string | undefined;
  /** Start paused (`xm create -p`). */
  paused?: boolean;
  /**
   * `key=value` settings given after the cfg on the command line. Drivers that build the domain
   * from `config` have them merged in already; xl, which reads the cfg file itself, is handed them.
   */
  overrides?: readonly string[];
}

export interface ShutdownOptions {
  /** Wait until the domain is gone. */
  wait: boolean;
  timeoutMs?: number;
}

export interface ConsoleIO {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** Whether input is a TTY that should be put in raw mode. */
  isTTY: boolean;
}

/** The drivers xenkit has. */
export type DriverName = 'xl' | 'qemu' | 'libvirt';

export interface HostInfo {
  driver: DriverName;
  /** For QEMU: 'kvm' or 'tcg', and why. */
  accel?: { kind: 'kvm' | 'tcg'; reason: string };
  /** Domain-0's row: the host itself. */
  hostMemoryMiB: number;
  hostCpus: number;
  hostCpuTimeSec: number;
  details: Record<string, unknown>;
}

/** Options of vcpu-set. */
export interface VcpuSetOptions {
  /** Allow more vCPUs than the host has physical CPUs (xl refuses that by default). */
  ignoreHost?: boolean;
}

/** One disk of a running guest copied at one moment: the image it runs on, the file with the copy. */
export interface CopiedDisk {
  image: string;
  copy: string;
  size: number;
}

/** A point-in-time copy of a running guest's disks; `release` removes the copies. */
export interface RunningDiskCopy {
  /** How the copy was taken, for the summary. */
  method: string;
  /** How long the guest's vCPUs were stopped for it (0: never). */
  pausedMs: number;
  /** How long the guest's disk requests were held while the copy began. */
  heldMs: number;
  /** How long the copy took. */
  copyMs: number;
  disks: CopiedDisk[];
  release(): Promise<void>;
}

/** Where `migrate` moves a guest: another libvirt daemon. */
export interface MigrationTarget {
  /** Its connection URI. */
  uri: string;
  /** How the user named it (a host of the hosts file, or the URI itself), for messages. */
  label: string;
}

/** What a finished migration took, as libvirt measured it on the destination. */
export interface MigrationReport {
  /** Whether the guest kept running during the copy (--live), else it was paused for it. */
  live: boolean;
  /** The time the guest did not run at the switch-over, ms (libvirt's "Total downtime"). */
  downtimeMs: number | undefined;
  /** The whole migration, ms (libvirt's "Time elapsed"). */
  elapsedMs: number | undefined;
  /** Bytes of guest memory copied. */
  dataBytes: number | undefined;
  /** Whether the guest's autostart flag was carried over to the destination. */
  autostart: boolean;
  /** Disks whose contents libvirt copied to the destination (it did not see them); empty: shared storage. */
  copiedDisks?: string[];
  /** Kernel and initrd files uploaded to the destination first. */
  uploadedFiles?: string[];
}

export interface HypervisorDriver {
  readonly name: DriverName;
  hostInfo(): Promise<HostInfo>;
  /** Running (or paused) guests; not Domain-0. */
  list(): Promise<DomainInfo[]>;
  create(config: DomainConfig, options: CreateOptions): Promise<DomainInfo>;
  /** Attaches to the serial console until Ctrl-] or the domain ends. */
  console(name: string, io: ConsoleIO): Promise<void>;
  shutdown(name: string, options: ShutdownOptions): Promise<void>;
  reboot(name: string, options: ShutdownOptions): Promise<void>;
  destroy(name: string): Promise<void>;
  pause(name: string): Promise<void>;
  unpause(name: string): Promise<void>;
  setVcpus(name: string, count: number, options?: VcpuSetOptions): Promise<void>;
  /** Bytes. */
  setMemory(name: string, bytes: number): Promise<void>;
  /** Reads, and with `params` sets, the scheduler weight/cap. */
  schedCredit(name: string, params: Partial<SchedParams>): Promise<SchedParams>;
  /** Sends the magic SysRq key `key` (one letter or digit) to the guest's kernel, as `xl sysrq` does. */
  sysrq?(name: string, key: string): Promise<void>;
  /** Writes the running guest's state to `file` (a new file) and stops it, as `xl save` does. */
  save?(name: string, file: string): Promise<void>;
  /** Starts a guest again from a file `save` wrote, running (or paused) where it stopped. */
  restore?(file: string, options: { paused?: boolean }): Promise<DomainInfo>;
  /**
   * Moves a running guest to another host (`xm migrate`): its definition goes along and leaves
   * this host; a failure leaves it running here.
   */
  migrate?(name: string, target: MigrationTarget, options: { live: boolean }): Promise<MigrationReport>;
  /**
   * Starting guests at host boot kept by the hypervisor itself (libvirt's autostart flag) instead
   * of /etc/xen/auto links: the names it starts, and setting the flag of a defined guest.
   */
  autostart?: {
    list(): Promise<string[]>;
    set(name: string, on: boolean): Promise<void>;
  };
  /** Hot-plugs the disk of an xl disk spec (already parsed); it does not persist into the cfg. */
  blockAttach?(name: string, disk: DiskConfig): Promise<void>;
  /** Hot-unplugs the disk whose guest device is `vdev`, waiting for the guest to let it go. */
  blockDetach?(name: string, vdev: string): Promise<void>;
  blockList?(name: string): Promise<BlockDevice[]>;
  /** Hot-plugs a NIC from a vif spec (a MAC is generated when it has none); returns it. */
  networkAttach?(name: string, vif: VifConfig): Promise<NetworkDevice>;
  /** Hot-unplugs the NIC with device ID or MAC `which`. */
  networkDetach?(name: string, which: number | string): Promise<void>;
  networkList?(name: string): Promise<NetworkDevice[]>;
  vcpuList?(name: string): Promise<VcpuInfo[]>;
  /** Pins vCPU `vcpu` (or every one) to the host CPUs of `cpus` (a list like `0-1,3`, or `all`). */
  vcpuPin?(name: string, vcpu: number | 'all', cpus: string): Promise<void>;
  /** Sets the most memory the domain may balloon up to (bytes), as `xl mem-max`. */
  setMaxMemory?(name: string, bytes: number): Promise<void>;
  /** Renames a running domain; `cfgPath` is where its (renamed) config file now is. */
  rename?(name: string, newName: string, options?: { cfgPath?: string }): Promise<void>;
  /**
   * The hypervisor's message log (`xl dmesg`), or with `name` what the driver keeps of that
   * guest's own messages (QEMU: its console log); `clear` empties it after reading.
   */
  dmesg?(options: { name?: string; clear?: boolean }): Promise<string>;
  /**
   * Copies the disks `images` (host paths) of the running guest as they were at one moment, while
   * it keeps running (QEMU: a QMP block job); the copies stay until `release`.
   */
  copyDisks?(name: string, images: readonly string[], signal?: AbortSignal): Promise<RunningDiskCopy>;
}

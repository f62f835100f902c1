/** What a hypervisor reports about a domain: its state letters, resources and scheduler weights. */

/** Xen's state letters, in xl's column order: r b p s c d. */
export interface DomainState {
  running: boolean;
  blocked: boolean;
  paused: boolean;
  shutdown: boolean;
  crashed: boolean;
  dying: boolean;
}

export interface DomainInfo {
  name: string;
  /** Domain ID: grows with every start and reboot, never reused. Domain-0 is 0. */
  id: number;
  /** Current memory, MiB. */
  memoryMiB: number;
  /** Upper bound for mem-set, MiB. */
  maxMemoryMiB: number;
  /** vCPUs online now. */
  vcpus: number;
  /** Upper bound for vcpu-set. */
  maxVcpus: number;
  state: DomainState;
  /** CPU seconds used. */
  cpuTimeSec: number;
  /** When it (re)started, for `uptime`. */
  startedAt: Date | undefined;
  /** The cfg it was started from, when known. */
  cfgPath: string | undefined;
  /** Driver-specific details for `list -l` / `--json` (pid, sockets, argv, ...). */
  details: Record<string, unknown>;
}

export interface SchedParams {
  weight: number;
  cap: number;
}

/** One virtual disk of a running domain, as `block-list` shows it. */
export interface BlockDevice {
  /** The guest device name from the cfg or block-attach (`xvdb`). */
  vdev: string;
  target: string;
  format: string;
  access: 'rw' | 'ro';
  isCdrom: boolean;
  /** Attached while the domain ran (not in the domain's config file). */
  hotplugged: boolean;
  /** Driver-specific details (QEMU's device id, xl's backend state). */
  details: Record<string, unknown>;
}

/** One NIC of a running domain, as `network-list` shows it. */
export interface NetworkDevice {
  /** xl's device ID: the vif's index, new NICs take the next free one. */
  devid: number;
  mac: string;
  /** Bridge on the host, or undefined for the user network. */
  bridge: string | undefined;
  model: string | undefined;
  hotplugged: boolean;
  details: Record<string, unknown>;
}

/** One vCPU of a running domain, as `vcpu-list` shows it. */
export interface VcpuInfo {
  vcpu: number;
  /** The host CPU it runs (or last ran) on; undefined when offline. */
  cpu: number | undefined;
  running: boolean;
  blocked: boolean;
  online: boolean;
  timeSec: number;
  /** Host CPUs it may run on (xl's hard affinity), as a list like `0-1` or `all`. */
  affinity: string;
}

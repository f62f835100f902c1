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

/** What the domain commands need from outside: streams, environment and the pieces they drive. */
import type { EventSink } from '../../log/events.js';
import type { DomainConfig } from '../../model/domain-config.js';
import type { Paths } from '../../paths.js';
import type { DetectOptions, DriverChoice, DriverKind } from '../../hypervisors/detect.js';
import type { HypervisorDriver } from '../../hypervisors/driver.js';
import type { CliIO } from '../run-cli.js';

/** Streams: output to stdout/stderr, and stdin for consoles. */
export interface DomainCommandIO extends CliIO {
  stdin: NodeJS.ReadableStream;
  /** Whether stdin is a terminal (the console puts it in raw mode). */
  isTTY: boolean;
}

/** The process's own streams, for the command-line entry points. */
export function processIO(): DomainCommandIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    // Read when used: process.stdin opens the stream (a ReadStream, tty or socket) at its first
    // read, a fifth of node's own start, and only console and top use it.
    get stdin() {
      return process.stdin;
    },
    get isTTY() {
      return process.stdin.isTTY === true;
    },
  };
}

/** KVM or TCG, and why (from probeAccel). */
export interface AccelInfo {
  kind: 'kvm' | 'tcg';
  reason: string;
}

/** Everything `addDomainCommands` needs; only `io` is required, the rest defaults to the real thing. */
export interface DomainCommandDeps {
  io: DomainCommandIO;
  /** The program name used in hints (`xm list`, `xenkit list`). Default `xm`. */
  prog?: string;
  /** Environment read for XENKIT_ROOT and XENKIT_DRIVER. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Builds a driver once its kind is chosen (`sink` takes its warnings; `uri` is the libvirt
   * connection). Default: the xl, QEMU and libvirt drivers.
   */
  createDriver?: (
    kind: DriverKind,
    paths: Paths,
    sink?: EventSink,
    uri?: string,
  ) => HypervisorDriver | Promise<HypervisorDriver>;
  /** Chooses the driver. Default detectDriver. */
  detectDriver?: (options: DetectOptions) => Promise<DriverChoice>;
  /** Parses an xl.cfg file. Default parseXlCfg. */
  parseConfig?: (text: string, file: string) => DomainConfig | Promise<DomainConfig>;
  /** KVM or TCG for `info` under the QEMU driver. Default probeAccel. */
  probeAccel?: () => Promise<AccelInfo>;
  /** Host uptime in seconds, for Domain-0 in `uptime`. Default /proc/uptime. */
  hostUptimeSec?: () => Promise<number>;
  /** The clock. */
  now?: () => Date;
}

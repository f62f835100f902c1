/**
 * Typed wrapper around Xen's `xl`: one verb-named function per subcommand xenkit uses, with the
 * output parsed into types. Every run goes through runCommand.
 */
import { runtimeError, XenkitError } from '../errors.js';
import type { SchedParams, VcpuInfo } from '../model/domain-state.js';
import { parseXlVcpuList } from './xl-parse-devices.js';
import { parseXlInfo, parseXlSchedCredit } from './xl-parse-info.js';
import { parseXlListLong, type XlDomainRecord } from './xl-parse-list-long.js';
import { parseXlList, parseXlUptime, type XlListRow, type XlUptimeRow } from './xl-parse-list.js';
import type { EventSink } from '../log/events.js';
import { runCommand, type ExecResult } from './exec.js';

/** How to run xl: the binary (default `xl` on PATH), extra environment, where exec events go. */
export interface XlOptions {
  bin?: string;
  env?: Record<string, string | undefined>;
  sink?: EventSink;
  timeoutMs?: number;
}

// Debian's xen-utils-wrapper prints this (exit 1) when the kernel was not booted under Xen.
const NO_XEN_RE = /Can't find hypervisor information in sysfs|Hypervisor is not xen|cannot init xl context/;

/** Whether xl's output says this host does not run under Xen (or is not its dom0). */
export function isNoHypervisorOutput(text: string): boolean {
  return NO_XEN_RE.test(text);
}

/** Runs `xl ARGS...`; a failure names the subcommand and keeps xl's last line. */
export async function runXl(
  args: readonly string[],
  options: XlOptions = {},
  extra: { inheritStdio?: boolean; allowFailure?: boolean } = {},
): Promise<ExecResult> {
  const argv = [options.bin ?? 'xl', ...args];
  const result = await runCommand(argv, {
    env: options.env,
    sink: options.sink,
    timeoutMs: options.timeoutMs,
    inheritStdio: extra.inheritStdio,
    allowFailure: true,
  });
  if (result.exitCode === 0 || extra.allowFailure) return result;
  const output = `${result.stderr}\n${result.stdout}`;
  const lastLine =
    output
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean)
      .at(-1) ?? `exit status ${result.exitCode}`;
  if (isNoHypervisorOutput(output)) {
    throw runtimeError(
      'E_XL_NO_XEN',
      `xl ${args[0] ?? ''}: this host is not a running Xen dom0 (${lastLine})`,
      'boot the host into Xen, or use the QEMU driver: --driver qemu',
    );
  }
  throw new XenkitError('E_XL', `xl ${args.join(' ')} failed: ${lastLine}`, {
    details: `command: ${argv.join(' ')}\n${output.trim()}`,
  });
}

/** `xl list`: every domain, Domain-0 first. */
export async function listXlDomains(options: XlOptions = {}): Promise<XlListRow[]> {
  return parseXlList((await runXl(['list'], options)).stdout);
}

/** `xl list -l`: the libxl configuration of every domain. */
export async function listXlDomainsLong(options: XlOptions = {}): Promise<XlDomainRecord[]> {
  return parseXlListLong((await runXl(['list', '-l'], options)).stdout);
}

/** `xl uptime`: seconds each domain has been up. */
export async function readXlUptime(options: XlOptions = {}): Promise<XlUptimeRow[]> {
  return parseXlUptime((await runXl(['uptime'], options)).stdout);
}

/** `xl info`: the host and hypervisor facts. */
export async function readXlInfo(options: XlOptions = {}): Promise<Record<string, string>> {
  return parseXlInfo((await runXl(['info'], options)).stdout);
}

/** `xl create [-p] CFG`. */
export async function createXlDomain(
  cfgPath: string,
  flags: { paused?: boolean; overrides?: readonly string[] },
  options: XlOptions = {},
): Promise<void> {
  // xl create CFG [VAR=VALUE...]: the settings after the cfg override its lines, as under xm.
  await runXl(['create', ...(flags.paused ? ['-p'] : []), cfgPath, ...(flags.overrides ?? [])], options);
}

/** `xl console NAME` on the caller's terminal, until Ctrl-] or the domain ends. */
export async function attachXlConsole(name: string, options: XlOptions = {}): Promise<void> {
  await runXl(['console', name], options, { inheritStdio: true });
}

/** `xl shutdown [-w] NAME`. */
export async function shutdownXlDomain(name: string, wait: boolean, options: XlOptions = {}): Promise<void> {
  await runXl(['shutdown', ...(wait ? ['-w'] : []), name], options);
}

/** `xl reboot [-w] NAME`. */
export async function rebootXlDomain(name: string, wait: boolean, options: XlOptions = {}): Promise<void> {
  await runXl(['reboot', ...(wait ? ['-w'] : []), name], options);
}

/** `xl destroy NAME`. */
export async function destroyXlDomain(name: string, options: XlOptions = {}): Promise<void> {
  await runXl(['destroy', name], options);
}

/** `xl save NAME FILE`: the domain's state to FILE, then the domain is gone. */
export async function saveXlDomain(name: string, file: string, options: XlOptions = {}): Promise<void> {
  await runXl(['save', name, file], options);
}

/** `xl restore [-p] FILE`. */
export async function restoreXlDomain(file: string, paused: boolean, options: XlOptions = {}): Promise<void> {
  await runXl(['restore', ...(paused ? ['-p'] : []), file], options);
}

/** `xl sysrq NAME KEY`. */
export async function sysrqXlDomain(name: string, key: string, options: XlOptions = {}): Promise<void> {
  await runXl(['sysrq', name, key], options);
}

/** `xl pause NAME`. */
export async function pauseXlDomain(name: string, options: XlOptions = {}): Promise<void> {
  await runXl(['pause', name], options);
}

/** `xl unpause NAME`. */
export async function unpauseXlDomain(name: string, options: XlOptions = {}): Promise<void> {
  await runXl(['unpause', name], options);
}

/** `xl vcpu-set [--ignore-host] NAME N`. */
export async function setXlVcpus(
  name: string,
  count: number,
  options: XlOptions = {},
  ignoreHost = false,
): Promise<void> {
  await runXl(['vcpu-set', ...(ignoreHost ? ['--ignore-host'] : []), name, String(count)], options);
}

/** `xl mem-set NAME <KiB>k` (xl's bare number means KiB; the explicit suffix removes any doubt). */
export async function setXlMemory(name: string, bytes: number, options: XlOptions = {}): Promise<void> {
  await runXl(['mem-set', name, `${Math.floor(bytes / 1024)}k`], options);
}

/** The xl subcommand for a scheduler: credit has `sched-credit`, everything else xenkit knows `sched-credit2`. */
export function schedCommandFor(scheduler: string): 'sched-credit' | 'sched-credit2' {
  return scheduler === 'credit' ? 'sched-credit' : 'sched-credit2';
}

/** `xl sched-credit[2] -d NAME [-w W] [-c C]`, then reads the values back. */
export async function schedXlCredit(
  scheduler: string,
  name: string,
  params: Partial<SchedParams>,
  options: XlOptions = {},
): Promise<SchedParams> {
  const command = schedCommandFor(scheduler);
  const setArgs = [
    ...(params.weight !== undefined ? ['-w', String(params.weight)] : []),
    ...(params.cap !== undefined ? ['-c', String(params.cap)] : []),
  ];
  if (setArgs.length > 0) await runXl([command, '-d', name, ...setArgs], options);
  return parseXlSchedCredit((await runXl([command, '-d', name], options)).stdout, name);
}

/** `xl block-attach NAME SPEC` (the disk spec as one argument; xl parses its commas). */
export async function blockAttachXl(name: string, spec: string, options: XlOptions = {}): Promise<void> {
  await runXl(['block-attach', name, spec], options);
}

/** `xl block-detach NAME VDEV`. */
export async function blockDetachXl(name: string, vdev: string, options: XlOptions = {}): Promise<void> {
  await runXl(['block-detach', name, vdev], options);
}

/** `xl network-attach NAME KEY=VALUE...` (xl takes the vif spec's pairs as separate arguments). */
export async function networkAttachXl(
  name: string,
  pairs: readonly string[],
  options: XlOptions = {},
): Promise<void> {
  await runXl(['network-attach', name, ...pairs], options);
}

/** `xl network-detach NAME DEVID|MAC`. */
export async function networkDetachXl(name: string, which: string, options: XlOptions = {}): Promise<void> {
  await runXl(['network-detach', name, which], options);
}

/** `xl vcpu-list NAME`. */
export async function listXlVcpus(name: string, options: XlOptions = {}): Promise<VcpuInfo[]> {
  return parseXlVcpuList((await runXl(['vcpu-list', name], options)).stdout, name);
}

/** `xl vcpu-pin NAME VCPU|all CPUS`. */
export async function pinXlVcpu(
  name: string,
  vcpu: string,
  cpus: string,
  options: XlOptions = {},
): Promise<void> {
  await runXl(['vcpu-pin', name, vcpu, cpus], options);
}

/** `xl mem-max NAME <KiB>k`. */
export async function setXlMaxMemory(name: string, bytes: number, options: XlOptions = {}): Promise<void> {
  await runXl(['mem-max', name, `${Math.floor(bytes / 1024)}k`], options);
}

/** `xl rename OLD NEW`. */
export async function renameXlDomain(name: string, newName: string, options: XlOptions = {}): Promise<void> {
  await runXl(['rename', name, newName], options);
}

/** `xl dmesg [-c]`: Xen's own message buffer. */
export async function readXlDmesg(clear: boolean, options: XlOptions = {}): Promise<string> {
  return (await runXl(['dmesg', ...(clear ? ['-c'] : [])], options)).stdout;
}

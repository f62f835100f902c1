/**
 * Typed wrapper around libvirt's `virsh`, always as `virsh --connect URI ...`: one verb-named
 * function per subcommand xenkit uses, output parsed into types. Every run goes through
 * runCommand.
 *
 * Why virsh and not a binding: libvirt's Node bindings are native addons that must be compiled
 * against libvirt's headers at install time (and the maintained ones lag libvirt's releases);
 * virsh ships with every libvirt (Debian's libvirt-clients), speaks every URI libvirt knows
 * (`qemu:///system`, `qemu+ssh://host/system`, ...) through libvirt's own client code, and
 * its `--connect` makes each call name the host it talks to. A run costs a few milliseconds of
 * process start, which xm's verbs do not notice.
 */
import { runtimeError, usageError, XenkitError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { runCommand, type ExecResult } from './exec.js';

/** libvirt's default connection for a host's own guests. */
export const DEFAULT_CONNECT_URI = 'qemu:///system';

/** How to run virsh: the connection, the binary (default `virsh` on PATH), where exec events go. */
export interface VirshOptions {
  uri: string;
  bin?: string;
  env?: Record<string, string | undefined>;
  sink?: EventSink;
  timeoutMs?: number;
}

/** libvirt's domain states, as `virsh list` prints them. */
export type VirshState =
  'running' | 'idle' | 'paused' | 'in shutdown' | 'shut off' | 'crashed' | 'pmsuspended' | 'dying';

/** One row of `virsh list --all`. */
export interface VirshListRow {
  /** undefined for a domain that is not running (`-`). */
  id: number | undefined;
  name: string;
  state: VirshState;
}

const STATES: readonly VirshState[] = [
  'running',
  'idle',
  'paused',
  'in shutdown',
  'shut off',
  'crashed',
  'pmsuspended',
  'dying',
];

// What virsh prints (exit 1) when the daemon behind the URI cannot be reached.
const NO_CONNECTION_RE =
  /failed to connect to the hypervisor|Failed to connect socket|unable to connect to server/i;
const NO_DOMAIN_RE = /Domain not found|failed to get domain/i;
// What virsh prints when the daemon goes away while it waits for an answer.
const LOST_RE =
  /End of file while reading data|client socket is closed|Cannot recv data|Cannot write data|connection closed|Broken pipe/i;

function lastLine(text: string, fallback: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim().replace(/^error: /, ''))
      .filter(Boolean)
      .at(-1) ?? fallback
  );
}

/** Runs `virsh --connect URI ARGS...`; a failure names the URI and the subcommand, with virsh's last line. */
export async function runVirsh(
  args: readonly string[],
  options: VirshOptions,
  extra: { inheritStdio?: boolean; allowFailure?: boolean } = {},
): Promise<ExecResult> {
  const argv = [options.bin ?? 'virsh', '--connect', options.uri, ...args];
  const result = await runCommand(argv, {
    env: options.env,
    sink: options.sink,
    timeoutMs: options.timeoutMs ?? 120_000,
    inheritStdio: extra.inheritStdio,
    allowFailure: true,
  });
  if (result.exitCode === 0 || extra.allowFailure) return result;
  const output = `${result.stderr}\n${result.stdout}`;
  const why = lastLine(output, `exit status ${result.exitCode}`);
  if (NO_CONNECTION_RE.test(output)) {
    throw usageError(
      'E_LIBVIRT_CONNECT',
      `cannot reach libvirt at ${options.uri}: ${why}`,
      'check the URI (--connect, XENKIT_CONNECT) and that libvirtd runs there',
    );
  }
  if (LOST_RE.test(output)) {
    throw runtimeError(
      'E_LIBVIRT_LOST',
      `libvirt at ${options.uri} stopped answering during virsh ${args[0] ?? ''}: ${why}`,
      `is libvirtd still running there? \`virsh --connect ${options.uri} list --all\` tells`,
    );
  }
  if (NO_DOMAIN_RE.test(output)) {
    throw runtimeError('E_NO_DOMAIN', `libvirt at ${options.uri} has no domain "${args.at(-1) ?? ''}"`, why);
  }
  throw new XenkitError('E_VIRSH', `virsh ${args[0] ?? ''} on ${options.uri} failed: ${why}`, {
    details: `command: ${argv.join(' ')}\n${output.trim()}`,
  });
}

/** Parses `virsh list --all`: `Id Name State` rows under a dashed rule. */
export function parseVirshList(text: string): VirshListRow[] {
  const rows: VirshListRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+|-)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) continue;
    const state = STATES.find((s) => s === m[3]);
    if (!state) continue;
    rows.push({ id: m[1] === '-' ? undefined : Number(m[1]), name: m[2], state });
  }
  return rows;
}

/** Parses `virsh domstats`: per domain, its `key=value` fields. */
export function parseDomstats(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const head = /^Domain: '(.*)'\s*$/.exec(line);
    if (head?.[1] !== undefined) {
      current = {};
      out.set(head[1], current);
      continue;
    }
    const field = /^\s+([^=\s]+)=(.*)$/.exec(line);
    if (current && field?.[1] !== undefined) current[field[1]] = field[2] ?? '';
  }
  return out;
}

/** Parses `Key: value` lines (`virsh nodeinfo`, `dominfo`, `schedinfo`). */
export function parseVirshFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:]+?)\s*:\s*(.*?)\s*$/.exec(line);
    if (m?.[1] !== undefined) out[m[1]] = m[2] ?? '';
  }
  return out;
}

/**
 * Whether `virsh capabilities` offers KVM guests for x86_64 that can run (else TCG, type `qemu`).
 * libvirt offers `kvm` wherever QEMU can open /dev/kvm and create a VM; a /dev/kvm on a CPU without
 * vmx or svm (an emulated or half-nested one, as on some cloud and CI machines) passes that and then
 * spins a guest at 100% CPU without it ever booting. So the host CPU libvirt describes must have
 * one of those features too, as the QEMU driver requires of /proc/cpuinfo (accel-probe.ts).
 */
export function capabilitiesHaveKvm(xml: string): boolean {
  const hostCpu = /<host>[\s\S]*?<cpu>([\s\S]*?)<\/cpu>/.exec(xml)?.[1] ?? '';
  if (!/<feature name=['"](vmx|svm)['"]/.test(hostCpu)) return false;
  return xml
    .split('<guest>')
    .slice(1)
    .some((guest) => /<arch name=['"]x86_64['"]/.test(guest) && /<domain type=['"]kvm['"]/.test(guest));
}

/** `virsh list --all` (every domain), or only the active ones. */
export async function listVirshDomains(options: VirshOptions, all = true): Promise<VirshListRow[]> {
  return parseVirshList((await runVirsh(['list', ...(all ? ['--all'] : [])], options)).stdout);
}

/** `virsh domstats` of the active domains: state, CPU time, balloon and vCPUs. */
export async function readVirshDomstats(options: VirshOptions): Promise<Map<string, Record<string, string>>> {
  const args = ['domstats', '--list-active', '--state', '--cpu-total', '--balloon', '--vcpu'];
  return parseDomstats((await runVirsh(args, options)).stdout);
}

/** Names of the domains libvirt starts when its daemon starts. */
export async function listVirshAutostart(options: VirshOptions): Promise<string[]> {
  const result = await runVirsh(['list', '--all', '--autostart', '--name'], options);
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
}

/** `virsh capabilities`, reduced to whether KVM is offered. */
export async function readVirshHasKvm(options: VirshOptions): Promise<boolean> {
  return capabilitiesHaveKvm((await runVirsh(['capabilities'], options)).stdout);
}

/** `virsh nodeinfo`: the host's CPUs and memory. */
export async function readVirshNodeinfo(options: VirshOptions): Promise<Record<string, string>> {
  return parseVirshFields((await runVirsh(['nodeinfo'], options)).stdout);
}

/** `virsh dumpxml NAME` (`--inactive`: the persistent definition). */
export async function dumpVirshXml(name: string, options: VirshOptions, inactive = false): Promise<string> {
  return (await runVirsh(['dumpxml', ...(inactive ? ['--inactive'] : []), name], options)).stdout;
}

/** `virsh define FILE`: makes (or replaces) the persistent definition. */
export async function defineVirshDomain(xmlFile: string, options: VirshOptions): Promise<void> {
  await runVirsh(['define', xmlFile], options);
}

/** `virsh undefine NAME`. */
export async function undefineVirshDomain(name: string, options: VirshOptions): Promise<void> {
  await runVirsh(['undefine', name], options);
}

/** `virsh start [--paused] NAME`. */
export async function startVirshDomain(name: string, paused: boolean, options: VirshOptions): Promise<void> {
  await runVirsh(['start', ...(paused ? ['--paused'] : []), name], options);
}

/** A one-word verb on a domain: shutdown, reboot, destroy, suspend, resume. */
export async function runVirshVerb(
  verb: 'shutdown' | 'reboot' | 'destroy' | 'suspend' | 'resume',
  name: string,
  options: VirshOptions,
): Promise<void> {
  await runVirsh([verb, name], options);
}

/** `virsh domstate NAME`: its state, or undefined when libvirt has no such domain. */
export async function readVirshState(name: string, options: VirshOptions): Promise<VirshState | undefined> {
  const result = await runVirsh(['domstate', name], options, { allowFailure: true });
  if (result.exitCode !== 0) {
    if (NO_DOMAIN_RE.test(result.stderr)) return undefined;
    await runVirsh(['domstate', name], options);
  }
  const text = result.stdout.trim();
  return STATES.find((s) => s === text);
}

/** `virsh setvcpus NAME N --live`. */
export async function setVirshVcpus(name: string, count: number, options: VirshOptions): Promise<void> {
  await runVirsh(['setvcpus', name, String(count), '--live'], options);
}

/** `virsh setmem NAME KIB --live` (the balloon target). */
export async function setVirshMemory(name: string, kib: number, options: VirshOptions): Promise<void> {
  await runVirsh(['setmem', name, `${kib}KiB`, '--live'], options);
}

/** `virsh autostart [--disable] NAME`. */
export async function setVirshAutostart(name: string, on: boolean, options: VirshOptions): Promise<void> {
  await runVirsh(['autostart', ...(on ? [] : ['--disable']), name], options);
}

/** `virsh schedinfo NAME [--live --set K=V ...]`: the scheduler fields, after setting any given. */
export async function virshSchedinfo(
  name: string,
  set: Record<string, string>,
  options: VirshOptions,
): Promise<Record<string, string>> {
  const sets = Object.entries(set).flatMap(([key, value]) => ['--set', `${key}=${value}`]);
  const args = ['schedinfo', name, ...(sets.length > 0 ? ['--live', ...sets] : [])];
  return parseVirshFields((await runVirsh(args, options)).stdout);
}

/** The argv of `virsh --connect URI console NAME` (the console attaches to a terminal). */
export function virshConsoleArgv(name: string, options: VirshOptions): string[] {
  return [options.bin ?? 'virsh', '--connect', options.uri, 'console', name];
}

/**
 * `virsh migrate [--live] [--copy-storage-all] --persistent --undefinesource NAME DEST`: the guest
 * moves with its definition (and its disks' contents into volumes made there beforehand); libvirt
 * leaves it running here when anything fails.
 */
export async function migrateVirshDomain(
  name: string,
  destinationUri: string,
  live: boolean,
  options: VirshOptions,
  storage: { copy?: boolean; provenShared?: boolean } = {},
): Promise<void> {
  // libvirt takes only network and cluster filesystems for shared storage and refuses others as
  // unsafe; `provenShared`: the caller showed both hosts see the same files (a marker volume).
  const copy = [
    ...(storage.copy ? ['--copy-storage-all'] : []),
    ...(storage.provenShared ? ['--unsafe'] : []),
  ];
  await runVirsh(
    [
      'migrate',
      ...(live ? ['--live'] : []),
      ...copy,
      '--persistent',
      '--undefinesource',
      name,
      destinationUri,
    ],
    { ...options, timeoutMs: options.timeoutMs ?? 30 * 60_000 },
  );
}

/** The last finished job of a domain (`virsh domjobinfo --completed`), as its `Key: value` fields. */
export async function readVirshCompletedJob(
  name: string,
  options: VirshOptions,
): Promise<Record<string, string>> {
  return parseVirshFields((await runVirsh(['domjobinfo', name, '--completed'], options)).stdout);
}

/** A domjobinfo figure such as "372          ms" or "85.914 MiB" in ms or bytes; undefined when absent. */
export function parseJobFigure(value: string | undefined): number | undefined {
  const m = /^([0-9.]+)\s*(ms|B|KiB|MiB|GiB|TiB)?$/.exec((value ?? '').trim());
  if (!m?.[1]) return undefined;
  const scale: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
  return Math.round(Number(m[1]) * (m[2] && m[2] !== 'ms' ? (scale[m[2]] ?? 1) : 1));
}

/** An in-memory HypervisorDriver for the xm command tests: records calls, keeps domains in a map. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { defaultDomainConfig, type DomainConfig } from '../../../src/model/domain-config.js';
import type {
  ConsoleIO,
  CreateOptions,
  DomainInfo,
  DomainState,
  HostInfo,
  HypervisorDriver,
  SchedParams,
  ShutdownOptions,
} from '../../../src/hypervisors/driver.js';
import type { DomainCommandDeps, DomainCommandIO } from '../../../src/cli/xm/index.js';
import { main } from '../../../src/cli/bin/xm.js';

export const NO_STATE: DomainState = {
  running: false,
  blocked: false,
  paused: false,
  shutdown: false,
  crashed: false,
  dying: false,
};

/** A running domain with sensible defaults. */
export function makeDomain(partial: Partial<DomainInfo> & { name: string; id: number }): DomainInfo {
  return {
    memoryMiB: 128,
    maxMemoryMiB: 128,
    vcpus: 1,
    maxVcpus: 1,
    state: { ...NO_STATE, blocked: true },
    cpuTimeSec: 0,
    startedAt: undefined,
    cfgPath: undefined,
    details: {},
    ...partial,
  };
}

export interface FakeCall {
  method: string;
  args: unknown[];
}

/** The fake: `domains` is the running set; `failOn` makes a method throw for a domain name. */
export class FakeDriver implements HypervisorDriver {
  readonly name = 'qemu' as const;
  readonly calls: FakeCall[] = [];
  domains: DomainInfo[] = [];
  nextId = 1;
  sched = new Map<string, SchedParams>();
  failOn = new Map<string, Set<string>>();
  host: HostInfo = {
    driver: 'qemu',
    hostMemoryMiB: 1893,
    hostCpus: 2,
    hostCpuTimeSec: 4943.9,
    details: {},
  };

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const name = typeof args[0] === 'string' ? args[0] : undefined;
    if (name && this.failOn.get(method)?.has(name)) throw new Error(`${method} ${name}: simulated failure`);
  }

  private find(name: string): DomainInfo {
    const domain = this.domains.find((d) => d.name === name);
    if (!domain) throw new Error(`fake: no domain ${name}`);
    return domain;
  }

  /** Methods called, in order, as `method name` strings. */
  callLog(): string[] {
    return this.calls.map((c) => [c.method, ...c.args.filter((a) => typeof a !== 'object')].join(' '));
  }

  async hostInfo(): Promise<HostInfo> {
    return this.host;
  }

  async list(): Promise<DomainInfo[]> {
    return this.domains.map((d) => ({ ...d }));
  }

  async create(config: DomainConfig, options: CreateOptions): Promise<DomainInfo> {
    this.record('create', config.name, options);
    this.nextId = Math.max(this.nextId, ...this.domains.map((d) => d.id + 1));
    const domain = makeDomain({
      name: config.name,
      id: this.nextId++,
      memoryMiB: config.memory,
      maxMemoryMiB: config.maxmem,
      vcpus: config.vcpus,
      maxVcpus: config.maxvcpus,
      state: { ...NO_STATE, paused: options.paused === true, running: options.paused !== true },
      cfgPath: options.cfgPath,
      startedAt: new Date(),
    });
    this.domains.push(domain);
    return domain;
  }

  async console(name: string, io: ConsoleIO): Promise<void> {
    this.record('console', name);
    io.output.write(`[console of ${name}]\n`);
  }

  async shutdown(name: string, options: ShutdownOptions): Promise<void> {
    this.record('shutdown', name, options);
    this.domains = this.domains.filter((d) => d.name !== name);
  }

  async reboot(name: string, options: ShutdownOptions): Promise<void> {
    this.record('reboot', name, options);
    this.find(name).id = this.nextId++;
  }

  async destroy(name: string): Promise<void> {
    this.record('destroy', name);
    this.domains = this.domains.filter((d) => d.name !== name);
  }

  async pause(name: string): Promise<void> {
    this.record('pause', name);
    this.find(name).state = { ...NO_STATE, paused: true };
  }

  async unpause(name: string): Promise<void> {
    this.record('unpause', name);
    this.find(name).state = { ...NO_STATE, running: true };
  }

  async setVcpus(name: string, count: number, options?: { ignoreHost?: boolean }): Promise<void> {
    if (options?.ignoreHost) this.record('setVcpus', name, count, options);
    else this.record('setVcpus', name, count);
    this.find(name).vcpus = count;
  }

  async setMemory(name: string, bytes: number): Promise<void> {
    this.record('setMemory', name, bytes);
    this.find(name).memoryMiB = bytes / 1024 / 1024;
  }

  /** Writes the domain as JSON to a new `file` and stops it. */
  async save(name: string, file: string): Promise<void> {
    this.record('save', name, file);
    if (existsSync(file)) throw new Error(`save file ${file} exists already`);
    writeFileSync(file, JSON.stringify({ fakeSave: this.find(name).name }));
    this.domains = this.domains.filter((d) => d.name !== name);
  }

  /** Runs the domain of a file `save` wrote again, under a new ID. */
  async restore(file: string, options: { paused?: boolean }): Promise<DomainInfo> {
    this.record('restore', file, options);
    const { fakeSave } = JSON.parse(readFileSync(file, 'utf8')) as { fakeSave: string };
    const domain = makeDomain({ name: fakeSave, id: this.nextId++ });
    this.domains.push(domain);
    return domain;
  }

  async schedCredit(name: string, params: Partial<SchedParams>): Promise<SchedParams> {
    this.record('schedCredit', name, params);
    const next = { weight: 256, cap: 0, ...this.sched.get(name), ...params };
    this.sched.set(name, next);
    return next;
  }
}

/** A tiny stand-in for parseXlCfg: reads `name`, `memory`, `maxmem`, `vcpus`, `maxvcpus` lines. */
export function parseTestCfg(text: string, file: string): DomainConfig {
  const value = (key: string): string | undefined =>
    new RegExp(`^\\s*${key}\\s*=\\s*'?([^'\\n]*)'?`, 'm').exec(text)?.[1]?.trim();
  const name = value('name');
  if (!name) throw new Error(`${file}: no name`);
  const memory = Number(value('memory') ?? 128);
  const vcpus = Number(value('vcpus') ?? 1);
  return defaultDomainConfig(name, {
    bootloader: 'pygrub',
    onCrash: 'restart',
    memory,
    maxmem: Number(value('maxmem') ?? memory),
    vcpus,
    maxvcpus: Number(value('maxvcpus') ?? vcpus),
  });
}

/** What one `xm` run printed and returned. */
export interface XmRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** An entry point that runs `xm ARGS`: bin/xm.ts's main, or another front of the same verbs. */
export type XmEntry = (
  args: string[],
  io: DomainCommandIO,
  deps: Partial<DomainCommandDeps>,
) => Promise<number>;

/** Runs `xm ARGS` (through `entry`) against the fake driver (and the test cfg parser) under `root`. */
export async function runXm(
  driver: FakeDriver,
  root: string,
  args: string[],
  extra: Partial<DomainCommandDeps> = {},
  entry: XmEntry = main,
): Promise<XmRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const io = { stdout, stderr, stdin: new PassThrough(), isTTY: false };
  const code = await entry(args, io, {
    env: { XENKIT_ROOT: root },
    createDriver: () => driver,
    detectDriver: async () => ({ driver: 'qemu', reason: 'test' }),
    parseConfig: parseTestCfg,
    hostUptimeSec: async () => 3 * 86400 + 2 * 3600 + 61,
    ...extra,
  });
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out, stderr: err };
}

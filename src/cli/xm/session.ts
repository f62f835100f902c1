/**
 * The per-invocation state every domain command shares: resolved paths, the chosen driver
 * (detected once, lazily), output helpers and the lookups with the standard error messages.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { runtimeError, usageError } from '../../errors.js';
import type { EventSink } from '../../log/events.js';
import type { DomainConfig } from '../../model/domain-config.js';
import { assertGuestName } from '../../model/guest-name.js';
import { makePaths, resolveRoot, type Paths } from '../../paths.js';
import { checkHostName, checkHostUri, findHost } from '../../config/hosts-file.js';
import { readXenkitConf, type XenkitConf } from '../../config/xenkit-conf.js';
import { detectDriver, DRIVER_ENV, type DriverChoice } from '../../hypervisors/detect.js';
import { DEFAULT_CONNECT_URI } from '../../tools/virsh.js';
import type { DomainInfo, HypervisorDriver } from '../../hypervisors/driver.js';
import { createDefaultDriver, parseDefaultConfig } from './default-deps.js';
import type { DomainCommandDeps } from './deps.js';

/** Flags every domain command accepts. */
export interface CommonFlags {
  root?: string;
  driver?: string;
  connect?: string;
  host?: string;
  json?: boolean;
}

/** Environment variable naming the libvirt connection URI. */
export const CONNECT_ENV = 'XENKIT_CONNECT';

/** The libvirt connection of a run, and why. */
export interface Connection {
  uri: string;
  reason: string;
  /** The named host (--host), when one was given. */
  host?: string;
}

/** Adds `--root`, `--driver`, `--connect`, `--host` (and `--json` unless `json` is false) to a command. */
export function addCommonOptions(command: Command, options: { json?: boolean } = {}): Command {
  command
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .option(
      '--driver <name>',
      'hypervisor driver: xl (Xen dom0), qemu or libvirt; default: detected (also XENKIT_DRIVER, driver in xenkit.conf)',
    )
    .option(
      '--connect <uri>',
      `libvirt connection URI for the libvirt driver; default ${DEFAULT_CONNECT_URI} (also ${CONNECT_ENV}, connect in xenkit.conf)`,
    )
    .option('--host <name>', 'a host of `xenkit hosts`: the libvirt driver on its URI');
  if (options.json !== false) command.option('--json', 'print the result as JSON');
  return command;
}

/** One command run: paths, driver, output. */
export class Session {
  readonly paths: Paths;
  readonly prog: string;
  readonly json: boolean;
  private choice: Promise<DriverChoice> | undefined;
  private driverPromise: Promise<HypervisorDriver> | undefined;
  private confPromise: Promise<XenkitConf> | undefined;
  private connectionPromise: Promise<Connection> | undefined;

  constructor(
    readonly deps: DomainCommandDeps,
    readonly flags: CommonFlags,
  ) {
    const env = deps.env ?? process.env;
    this.paths = makePaths(resolveRoot(flags.root, env));
    this.prog = deps.prog ?? 'xm';
    this.json = flags.json === true;
  }

  /** xenkit.conf (read once per run). */
  conf(): Promise<XenkitConf> {
    return (this.confPromise ??= readXenkitConf(this.paths.xenkitConfFile));
  }

  /** The driver choice (detected once per run): --host/--connect mean libvirt. */
  chooseDriver(): Promise<DriverChoice> {
    return (this.choice ??= this.detectChoice());
  }

  private async detectChoice(): Promise<DriverChoice> {
    const env = this.deps.env ?? process.env;
    const { driver, host, connect } = this.flags;
    if (driver === undefined && (host !== undefined || connect !== undefined)) {
      return { driver: 'libvirt', reason: `chosen by ${host !== undefined ? '--host' : '--connect'}` };
    }
    const conf =
      driver === undefined && env[DRIVER_ENV] === undefined ? (await this.conf()).driver : undefined;
    const override = driver ?? env[DRIVER_ENV] ?? conf?.value;
    const overrideSource =
      driver !== undefined
        ? '--driver'
        : env[DRIVER_ENV] !== undefined
          ? DRIVER_ENV
          : `${conf?.where}: driver`;
    const detect = this.deps.detectDriver ?? detectDriver;
    return detect({ paths: this.paths, override, overrideSource });
  }

  /** The libvirt connection: --host, --connect, XENKIT_CONNECT, xenkit.conf, else qemu:///system. */
  connection(): Promise<Connection> {
    return (this.connectionPromise ??= this.findConnection());
  }

  private async findConnection(): Promise<Connection> {
    const env = this.deps.env ?? process.env;
    const { host, connect } = this.flags;
    if (host !== undefined && connect !== undefined) {
      throw usageError(
        'E_CONFLICT',
        `give --host or --connect, not both (got --host ${host} and --connect ${connect})`,
      );
    }
    if (host !== undefined) {
      const entry = await findHost(this.paths.hostsFile, checkHostName(host));
      return { uri: entry.uri, reason: `host "${host}" of ${this.paths.hostsFile}`, host };
    }
    if (connect !== undefined) return { uri: checkHostUri(connect), reason: 'chosen by --connect' };
    const fromEnv = env[CONNECT_ENV];
    if (fromEnv !== undefined && fromEnv !== '')
      return { uri: checkHostUri(fromEnv), reason: `chosen by ${CONNECT_ENV}` };
    const conf = (await this.conf()).connect;
    if (conf) return { uri: checkHostUri(conf.value), reason: `connect in ${conf.where}` };
    return { uri: DEFAULT_CONNECT_URI, reason: "libvirt's default for the host's own guests" };
  }

  /** The driver (built once per run). */
  driver(): Promise<HypervisorDriver> {
    const create = this.deps.createDriver ?? createDefaultDriver;
    const sink: EventSink = (event) => {
      if (event.type === 'warn') this.deps.io.stderr.write(`${this.prog}: warning: ${event.message}\n`);
    };
    return (this.driverPromise ??= this.chooseDriver().then(async (choice) =>
      create(
        choice.driver,
        this.paths,
        sink,
        choice.driver === 'libvirt' ? (await this.connection()).uri : undefined,
      ),
    ));
  }

  /** Writes text to stdout. */
  print(text: string): void {
    this.deps.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Writes a value as pretty JSON to stdout. */
  printJson(value: unknown): void {
    this.deps.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Prints `text` normally, `value` under --json. */
  report(text: string, value: unknown): void {
    if (this.json) this.printJson(value);
    else this.print(text);
  }

  /** The error for a domain that is not running, with the standard hints. */
  notRunning(name: string): Error {
    return runtimeError(
      'E_NO_DOMAIN',
      `no domain "${name}" is running`,
      `\`${this.prog} list\` shows the running domains; \`${this.prog} create ${name}\` starts it`,
    );
  }

  /** `name` when it is a valid guest name; E_GUEST_NAME (exit 2) naming `${prog} VERB` otherwise. */
  guestName(name: string, verb: string): string {
    return assertGuestName(name, `${this.prog} ${verb}`);
  }

  /** The running domain called `name` (checked as a guest name first), or the not-running error. */
  async findRunning(name: string, verb: string): Promise<DomainInfo> {
    this.guestName(name, verb);
    const driver = await this.driver();
    const found = (await driver.list()).find((domain) => domain.name === name);
    if (!found) throw this.notRunning(name);
    return found;
  }

  /** Reads and parses a domain config. */
  async loadConfig(cfgPath: string, overrides: readonly string[] = []): Promise<DomainConfig> {
    let text: string;
    try {
      // Synchronously: a cfg is a few hundred bytes, and `list --all` reads one per guest.
      text = readFileSync(cfgPath, 'utf8');
    } catch (error) {
      throw usageError('E_NO_CFG', `cannot read the domain config ${cfgPath}`, undefined, error);
    }
    // `key=value` arguments are read as lines after the file's own, as xl create does.
    const where = overrides.length > 0 ? `${cfgPath} with ${overrides.join(' ')}` : cfgPath;
    const full = overrides.length > 0 ? `${text}\n${overrides.join('\n')}\n` : text;
    const config = await (this.deps.parseConfig ?? parseDefaultConfig)(full, where);
    // The name becomes the runtime directory, the lock and more: one path component only.
    assertGuestName(config.name, cfgPath);
    return config;
  }
}

/** The driver methods a verb may lack (a driver added later need not have them all). */
export type OptionalVerb = {
  [K in keyof HypervisorDriver]-?: undefined extends HypervisorDriver[K] ? K : never;
}[keyof HypervisorDriver];

/**
 * The driver's `method`, bound, or the standard refusal naming `verb` and the driver (exit 2):
 * every optional driver method goes through here, so a driver without it fails the same way.
 */
export function requireVerb<K extends OptionalVerb>(
  driver: HypervisorDriver,
  method: K,
  verb: string,
): NonNullable<HypervisorDriver[K]> {
  const fn = driver[method];
  if (!fn) {
    throw usageError(
      'E_UNSUPPORTED',
      `${verb} is not supported under the ${driver.name} driver`,
      driver.name === 'xl' ? `on a Xen dom0 use xl ${verb} directly` : 'use the qemu or xl driver',
    );
  }
  return (fn as (...args: never[]) => unknown).bind(driver) as NonNullable<HypervisorDriver[K]>;
}

/** The flags of a commander action, including any the parent program defines (e.g. a global --root). */
export function flagsOf<T extends object = object>(command: Command): CommonFlags & Partial<T> {
  return command.optsWithGlobals<CommonFlags & Partial<T>>();
}

/** Parses a whole positive integer argument, naming it in the error. */
export function parseCount(text: string, what: string, hint: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw usageError('E_ARG', `${what} "${text}" is not a whole number of at least 1`, hint);
  }
  return Number(text);
}

/** `xm list [NAME...] [-l] [--json] [--all]`: the domain table, Domain-0 first. */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { openListingCache, type ListingCache } from '../../images/listing-cache.js';
import { packageVersionOrUndefined } from '../package-version.js';
import type { DomainInfo, HostInfo } from '../../hypervisors/driver.js';
import { listDefinedConfigs } from '../../hypervisors/autostart.js';
import {
  definedRow,
  domainRow,
  formatStateLetters,
  hostRow,
  renderList,
  type ListRow,
} from '../render-list.js';
import { usageError } from '../../errors.js';
import { allHostsJson, collectAllHosts, renderAllHosts } from './all-hosts.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session, type CommonFlags } from './session.js';

/** A guest with a config in /etc/xen that is not running. */
export interface StoppedGuest {
  name: string;
  cfgPath: string;
  memoryMiB: number | undefined;
  vcpus: number | undefined;
  /** Why the config could not be read, when it could not. */
  error?: string;
}

/** Everything `list` shows, before rendering. */
export interface DomainListing {
  host: HostInfo;
  /** Whether Domain-0 (the host) has a row: always, unless names were given without it. */
  showHost?: boolean;
  running: DomainInfo[];
  stopped: StoppedGuest[];
}

/** What `list --all` shows of a cfg: its guest's name, memory and vCPUs, or why it was refused. */
type CfgRow = { name: string; memoryMiB?: number; vcpus?: number; error?: undefined } | { error: string };

/** Whether `value` (from the listing cache's file) has a CfgRow's shape. */
function isCfgRow(value: unknown): value is CfgRow {
  const v = value as { name?: unknown; error?: unknown } | null;
  return typeof v === 'object' && v !== null && (typeof v.name === 'string' || typeof v.error === 'string');
}

/** The row of the cfg at `cfgPath`: from `cache` when the file is unchanged, else read and parsed. */
async function readCfgRow(
  session: Session,
  cfgPath: string,
  cache: ListingCache | undefined,
): Promise<CfgRow> {
  const stat = cache && statSync(cfgPath, { bigint: true, throwIfNoEntry: false });
  if (cache && stat) {
    const kept = cache.get(cfgPath, stat);
    if (isCfgRow(kept)) return kept;
  }
  let row: CfgRow;
  try {
    const config = await session.loadConfig(cfgPath);
    row = { name: config.name, memoryMiB: config.memory, vcpus: config.vcpus };
  } catch (error) {
    row = { error: error instanceof Error ? error.message : String(error) };
  }
  if (cache && stat) cache.set(cfgPath, stat, row);
  return row;
}

/** Collects the listing: host, running guests by ID, and with `all` the stopped guests by name. */
export async function collectListing(session: Session, all: boolean): Promise<DomainListing> {
  const driver = await session.driver();
  const [host, running] = await Promise.all([driver.hostInfo(), driver.list()]);
  running.sort((a, b) => a.id - b.id);
  const stopped: StoppedGuest[] = [];
  if (all) {
    const names = new Set(running.map((domain) => domain.name));
    // A parser of the caller's (tests) derives rows the cache could not tell from the real one's.
    const cache =
      session.deps.parseConfig === undefined
        ? openListingCache(session.paths.cacheDir, 'xm', packageVersionOrUndefined(), session.deps.env)
        : undefined;
    for (const defined of await listDefinedConfigs(session.paths)) {
      const row = await readCfgRow(session, defined.cfgPath, cache);
      if (row.error === undefined) {
        if (names.has(row.name)) continue;
        stopped.push({
          name: row.name,
          cfgPath: defined.cfgPath,
          memoryMiB: row.memoryMiB,
          vcpus: row.vcpus,
        });
      } else {
        if (names.has(defined.name)) continue;
        stopped.push({ ...defined, memoryMiB: undefined, vcpus: undefined, error: row.error });
      }
    }
    cache?.save();
  }
  return { host, running, stopped };
}

/** The JSON form of a listing (`list -l`, `list --json`). */
export function listingJson(listing: DomainListing): Record<string, unknown>[] {
  const { host } = listing;
  const dom0 = hostRow(host);
  const hostEntry = {
    name: 'Domain-0',
    id: 0,
    running: true,
    memoryMiB: host.hostMemoryMiB,
    vcpus: host.hostCpus,
    state: dom0.stateLetters,
    cpuTimeSec: host.hostCpuTimeSec,
    driver: host.driver,
    ...(host.accel ? { accel: host.accel } : {}),
    details: host.details,
  };
  return [
    ...(listing.showHost === false ? [] : [hostEntry]),
    ...listing.running.map((domain) => ({
      name: domain.name,
      id: domain.id,
      running: true,
      memoryMiB: domain.memoryMiB,
      maxMemoryMiB: domain.maxMemoryMiB,
      vcpus: domain.vcpus,
      maxVcpus: domain.maxVcpus,
      state: formatStateLetters(domain.state),
      stateFlags: domain.state,
      cpuTimeSec: domain.cpuTimeSec,
      startedAt: domain.startedAt?.toISOString() ?? null,
      cfgPath: domain.cfgPath ?? null,
      details: domain.details,
    })),
    ...listing.stopped.map((guest) => ({
      name: guest.name,
      id: null,
      running: false,
      memoryMiB: guest.memoryMiB ?? null,
      vcpus: guest.vcpus ?? null,
      state: '------',
      cfgPath: guest.cfgPath,
      ...(guest.error ? { error: guest.error } : {}),
    })),
  ];
}

/** The table rows of a listing, in display order. */
export function listingRows(listing: DomainListing): ListRow[] {
  return [
    ...(listing.showHost === false ? [] : [hostRow(listing.host)]),
    ...listing.running.map(domainRow),
    ...listing.stopped.map((guest) => definedRow(guest.name, guest.memoryMiB, guest.vcpus)),
  ];
}

/**
 * Keeps only the named domains, as `xl list NAME` does: Domain-0 only when it is named too; an
 * unknown name is an error.
 */
export function filterListing(session: Session, listing: DomainListing, names: string[]): DomainListing {
  if (names.length === 0) return listing;
  for (const name of names) {
    const known =
      name === 'Domain-0' ||
      listing.running.some((d) => d.name === name) ||
      listing.stopped.some((g) => g.name === name);
    if (!known) throw session.notRunning(name);
  }
  return {
    host: listing.host,
    showHost: names.includes('Domain-0'),
    running: listing.running.filter((d) => names.includes(d.name)),
    stopped: listing.stopped.filter((g) => names.includes(g.name)),
  };
}

/** The flags of `list`. */
export interface ListFlags extends CommonFlags {
  long?: boolean;
  all?: boolean;
  allHosts?: boolean;
}

/** Runs `list` for `names` with `flags`: the action of `xm list`, with or without commander. */
export async function runListCommand(
  deps: DomainCommandDeps,
  names: string[],
  flags: ListFlags,
): Promise<void> {
  const session = new Session(deps, flags);
  if (flags.allHosts) {
    if (names.length > 0 || flags.all || flags.host !== undefined || flags.connect !== undefined) {
      throw usageError(
        'E_ARG',
        '--all-hosts lists every host: give no names, --all, --host or --connect with it',
      );
    }
    const listings = await collectAllHosts(session);
    if (listings.length === 0) {
      throw usageError(
        'E_HOST',
        `no hosts in ${session.paths.hostsFile}`,
        '`xenkit hosts add NAME URI` adds one (e.g. local qemu:///system)',
      );
    }
    if (flags.json || flags.long) session.printJson(allHostsJson(listings));
    else session.print(renderAllHosts(listings));
    return;
  }
  const listing = filterListing(session, await collectListing(session, flags.all === true), names);
  if (flags.json || flags.long) session.printJson(listingJson(listing));
  else session.print(renderList(listingRows(listing)));
}

const LIST_FLAGS: Readonly<Record<string, 'long' | 'all' | 'allHosts' | 'json'>> = {
  '-l': 'long',
  '--long': 'long',
  '-a': 'all',
  '--all': 'all',
  '--all-hosts': 'allHosts',
  '--json': 'json',
};
const LIST_VALUES: Readonly<Record<string, 'root' | 'driver' | 'connect' | 'host'>> = {
  '--root': 'root',
  '--driver': 'driver',
  '--connect': 'connect',
  '--host': 'host',
};

/**
 * The names and flags of a `list` command line (the words after `list`) in the plain forms the
 * options of addListCommand take: `-a`, `--all`, `--root DIR`, `--root=DIR`, names. Anything else
 * (--help, an unknown or bundled option, a missing or empty value, `--`) is undefined: commander
 * parses and answers those, so its help and errors stay the only ones.
 */
export function parsePlainListArgs(
  argv: readonly string[],
): { names: string[]; flags: ListFlags } | undefined {
  const names: string[] = [];
  const flags: ListFlags = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      names.push(arg);
      continue;
    }
    const flag = LIST_FLAGS[arg];
    if (flag !== undefined) {
      flags[flag] = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const key = LIST_VALUES[eq < 0 ? arg : arg.slice(0, eq)];
    const value = eq < 0 ? argv[(i += 1)] : arg.slice(eq + 1);
    if (key === undefined || value === undefined || value === '' || value.startsWith('-')) return undefined;
    flags[key] = value;
  }
  return { names, flags };
}

/** Registers `list`. */
export function addListCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('list')
    .summary('list domains')
    .description(
      'List domains: Domain-0 (the host) first, then running guests by ID. ' +
        'Columns: Name, ID (grows at every start), Mem (MiB), VCPUs, State (r running, b blocked, ' +
        'p paused, s shut down, c crashed, d dying), Time(s) (CPU seconds used). ' +
        'With --all, guests with a config in /etc/xen that are not running are listed too (ID -). ' +
        'With names, only those domains (Domain-0 only when named), as xl list NAME does.',
    )
    .argument('[names...]', 'only these domains')
    .option('-l, --long', 'full details, as JSON')
    .option('-a, --all', 'also list defined guests that are not running')
    .option(
      '--all-hosts',
      'list the running guests of every host of `xenkit hosts` (libvirt), with a Host column; a host that does not answer says so',
    );
  addCommonOptions(command).action(async (names: string[], _opts: unknown, cmd: Command) =>
    runListCommand(deps, names, flagsOf<ListFlags>(cmd)),
  );
}

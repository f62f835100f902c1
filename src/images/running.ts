/**
 * "Is this guest running?" before any command writes its images, answered once for every driver
 * and every name: the QEMU runtime registry and, on a Xen host, `xl list`, asked for the cfg's
 * file name and for the cfg's `name`; and the images themselves, since a QEMU whose xm died, a
 * guest started by hand or under another name has no record but still holds its images open
 * and locked (see image-holders.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Paths } from '../paths.js';
import { openRegistry, type QemuProcess, type Registry } from '../hypervisors/qemu/registry.js';
import { runtimeError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import { assertGuestName, guestNameProblem } from '../model/guest-name.js';
import { runCommand } from '../tools/exec.js';
import { parseXlList } from '../tools/xl-parse-list.js';
import { cfgPathOf, guestDisksOf, isPresent, readGuest, type GuestDisk } from './guest-files.js';
import {
  describeHolder,
  findImageHolders,
  type HolderLookupOptions,
  type ImageHolder,
} from './image-holders.js';

/** What a guest is known by: its names and the images a running instance would hold. */
export interface GuestIdentity {
  /** The name on the command line (the cfg's file name). */
  name: string;
  /** Further names: the cfg's `name` when it differs from the file name. */
  aliases?: readonly string[];
  /** Image files or block devices; the existing ones are checked for holders. */
  images?: readonly string[];
  /**
   * Count only holders that may write the images. For a clone's source: a linked clone's QEMU
   * reads its base read-only, and a reader does not make the copy inconsistent.
   */
  isReadingAllowed?: boolean;
}

/** Where a running guest was seen. */
export type RunningEvidence =
  | { running: false }
  | { running: true; by: 'qemu'; name: string; pid: number }
  | { running: true; by: 'xl'; name: string }
  | { running: true; by: 'image'; holder: ImageHolder };

export interface RunningCheckOptions {
  sink?: EventSink;
  /** The xl binary; `false` skips the Xen check (tests). Default `xl` on PATH, asked on Xen only. */
  xl?: string | false;
  /** Where /sys is looked for (tests). Default `/`. */
  sysRoot?: string;
  /** The QEMU processes of one /proc scan shared by many checks (see RegistryOptions.processes). */
  qemuProcesses?: readonly QemuProcess[];
  /**
   * With `qemuProcesses`: the guest names that have a runtime directory (stateDir/qemu/NAME), read
   * once for many checks. A name with neither a directory nor a process is not running under
   * QEMU, and its registry lookup is skipped.
   */
  runtimeNames?: ReadonlySet<string>;
  /** How the images' holders are looked for (tests), or one scan shared by many checks. */
  holders?: HolderLookupOptions;
  /**
   * The domains one `xl list` showed (readXlDomainNames), shared by many checks: a name in it
   * runs under Xen, and no `xl list NAME` runs per guest.
   */
  xlDomains?: ReadonlySet<string>;
}

/**
 * The identity of guest `name` read from its cfg (`guest`), plus `images` the command itself
 * will write. Read-only disks are left out of the image check: a data image shared read-only by
 * several guests is held by whichever of them runs, which says nothing about this one.
 */
export function guestIdentity(
  name: string,
  guest: { config: { name: string }; disks: readonly GuestDisk[] } | undefined,
  images: readonly string[] = [],
): GuestIdentity {
  const own = (guest?.disks ?? []).filter((d) => d.config.access !== 'ro').map((d) => d.path);
  return {
    name,
    aliases: guest && guest.config.name !== name ? [guest.config.name] : [],
    images: [...new Set([...own, ...images])],
  };
}

/** guestIdentity of `name` with its cfg read when there is one (update, resize, create --force). */
export function readGuestIdentity(
  paths: Paths,
  name: string,
  images: readonly string[] = [],
  extension = '.cfg',
): GuestIdentity {
  const hasCfg = isPresent(cfgPathOf(paths, name, extension));
  return guestIdentity(name, hasCfg ? readGuest(paths, name, extension) : undefined, images);
}

/**
 * The identity of the guest a `--force` create replaces: whatever `cfgPath` describes now (its
 * name and writable images, when it parses) and the `images` the new guest is written to.
 */
export function replacedGuestIdentity(
  paths: Paths,
  name: string,
  cfgPath: string,
  images: readonly string[],
): GuestIdentity {
  let aliases: string[] = [];
  let own: string[] = [];
  try {
    const config = parseXlCfg(readFileSync(cfgPath, 'utf8'), cfgPath);
    // A name that is no guest name is never a registry key; its images are still checked.
    if (config.name !== name && guestNameProblem(config.name) === undefined) aliases = [config.name];
    own = guestDisksOf(paths, config)
      .filter((d) => d.config.access !== 'ro')
      .map((d) => d.path);
  } catch {
    // No cfg, or one that does not parse: only the name and the new image paths are known.
  }
  return { name, aliases, images: [...new Set([...own, ...images])] };
}

const xenHosts = new Map<string, boolean>();

/**
 * Whether this kernel runs on Xen (dom0 or domU): `/sys/hypervisor/type` says `xen`. Read once
 * per process (a listing asks for every guest); the answer cannot change while it runs. A sysfs
 * file read synchronously: the promise API's thread-pool round trips cost a listing more.
 */
function isUnderXen(sysRoot: string): boolean {
  let answer = xenHosts.get(sysRoot);
  if (answer === undefined) {
    let type = '';
    try {
      type = readFileSync(path.join(sysRoot, 'sys/hypervisor/type'), 'utf8');
    } catch {
      // no hypervisor directory: not Xen
    }
    answer = type.trim() === 'xen';
    xenHosts.set(sysRoot, answer);
  }
  return answer;
}

/** Whether `name` is a domain xl knows (exit 0 and the name in its listing). */
async function isKnownToXl(name: string, options: RunningCheckOptions): Promise<boolean> {
  // Like xen-tools' xenRunning: xl answers 0 only for a domain it knows; a host that is not a
  // dom0 (or has no xl) makes it fail, which means "not running under Xen".
  const result = await runCommand([options.xl || 'xl', 'list', name], {
    allowFailure: true,
    sink: options.sink,
    timeoutMs: 15_000,
  }).catch(() => undefined);
  return result?.exitCode === 0 && result.stdout.includes(name);
}

/**
 * Every domain name xl knows, from one `xl list`, where checkGuestRunning would ask xl at all
 * (undefined where it would not); an xl that fails knows none, as for isKnownToXl.
 */
export async function readXlDomainNames(
  options: RunningCheckOptions = {},
): Promise<ReadonlySet<string> | undefined> {
  if (options.xl === false) return undefined;
  if (options.xl === undefined && !isUnderXen(options.sysRoot ?? '/')) return undefined;
  const result = await runCommand([options.xl || 'xl', 'list'], {
    allowFailure: true,
    sink: options.sink,
    timeoutMs: 15_000,
  }).catch(() => undefined);
  if (result?.exitCode !== 0) return new Set();
  try {
    return new Set(parseXlList(result.stdout).map((row) => row.name));
  } catch {
    return new Set();
  }
}

/** The guest's names, each one path component (a name becomes a registry path, stateDir/qemu/NAME). */
function namesOf(identity: GuestIdentity): string[] {
  const names = identity.aliases?.length
    ? [...new Set([identity.name, ...identity.aliases])]
    : [identity.name];
  return names.map((n) => assertGuestName(n, 'command line'));
}

/**
 * Whether `name` may have a QEMU registry record to read: always, unless the shared scans
 * (qemuProcesses and runtimeNames) show neither a runtime directory nor a process of that name.
 */
function mayBeRegistered(name: string, options: RunningCheckOptions): boolean {
  const known = options.runtimeNames?.has(name) ?? true;
  return known || !options.qemuProcesses || options.qemuProcesses.some((p) => p.name === name);
}

/**
 * What follows the registry: a holder of the images, then Xen's domains when one `xl list`
 * was read for all guests; `ask-xl` when xl must be asked about each name.
 */
function checkAfterRegistry(
  identity: GuestIdentity,
  names: readonly string[],
  options: RunningCheckOptions,
): RunningEvidence | 'ask-xl' {
  const holder = findImageHolders(identity.images ?? [], options.holders).find(
    (h) => !identity.isReadingAllowed || h.isWriter !== false,
  );
  if (holder) return { running: true, by: 'image', holder };
  if (options.xl === false) return { running: false };
  // Not under Xen at all (no /sys/hypervisor/type saying xen): no domain can run, skip xl.
  if (options.xl === undefined && !isUnderXen(options.sysRoot ?? '/')) return { running: false };
  if (!options.xlDomains) return 'ask-xl';
  const name = names.find((n) => options.xlDomains?.has(n));
  return name === undefined ? { running: false } : { running: true, by: 'xl', name };
}

/**
 * Whether the guest runs: under the QEMU driver (registry) or Xen (`xl list`) by any of its
 * names, or by any process, lock or loop device holding one of its images.
 */
export async function checkGuestRunning(
  guest: GuestIdentity | string,
  paths: Paths,
  options: RunningCheckOptions = {},
): Promise<RunningEvidence> {
  const identity = typeof guest === 'string' ? { name: guest } : guest;
  const names = namesOf(identity);
  let registry: Registry | undefined;
  for (const name of names) {
    if (!mayBeRegistered(name, options)) continue;
    registry ??= openRegistry(paths, options.qemuProcesses ? { processes: options.qemuProcesses } : {});
    const record = await registry.read(name);
    if (record) return { running: true, by: 'qemu', name, pid: record.pid };
  }
  const seen = checkAfterRegistry(identity, names, options);
  if (seen !== 'ask-xl') return seen;
  for (const name of names) {
    if (await isKnownToXl(name, options)) return { running: true, by: 'xl', name };
  }
  return { running: false };
}

/**
 * checkGuestRunning's answer without waiting, where the scans shared by many checks answer it
 * (qemuProcesses with runtimeNames, and on a Xen host xlDomains): undefined when a registry
 * record or xl must be asked. A listing of many guests takes no promise for each.
 */
export function checkGuestRunningNow(
  identity: GuestIdentity,
  options: RunningCheckOptions,
): RunningEvidence | undefined {
  const names = namesOf(identity);
  if (names.some((name) => mayBeRegistered(name, options))) return undefined;
  const seen = checkAfterRegistry(identity, names, options);
  return seen === 'ask-xl' ? undefined : seen;
}

/** Whether the guest is running (see checkGuestRunning). */
export async function isGuestRunning(
  guest: GuestIdentity | string,
  paths: Paths,
  options: RunningCheckOptions = {},
): Promise<boolean> {
  return (await checkGuestRunning(guest, paths, options)).running;
}

/** Throws E_RUNNING naming the guest and the evidence when it runs: nothing may change its images then. */
export async function refuseRunningGuest(
  guest: GuestIdentity | string,
  paths: Paths,
  what: string,
  options: RunningCheckOptions = {},
): Promise<void> {
  const seen = await checkGuestRunning(guest, paths, options);
  if (!seen.running) return;
  const name = typeof guest === 'string' ? guest : guest.name;
  throw runtimeError(
    'E_RUNNING',
    `guest "${name}" is running ${runningWhere(seen, name)}; will not ${what} a running guest`,
    runningHint(seen),
  );
}

function runningWhere(seen: Exclude<RunningEvidence, { running: false }>, name: string): string {
  const as = (n: string): string => (n === name ? '' : ` as "${n}"`);
  if (seen.by === 'qemu') return `under QEMU${as(seen.name)} (pid ${seen.pid})`;
  if (seen.by === 'xl') return `under Xen${as(seen.name)} (xl list)`;
  return `(its image ${seen.holder.image} is in use: ${describeHolder(seen.holder)})`;
}

function runningHint(seen: Exclude<RunningEvidence, { running: false }>): string {
  if (seen.by === 'image' && seen.holder.via === 'loop')
    return `if nothing uses ${seen.holder.device ?? 'the loop device'} any more, detach it: losetup -d ${seen.holder.device ?? ''}`;
  if (seen.by === 'image')
    return `shut the guest down first (xm shutdown), or end what holds the image${seen.holder.pid ? ` (pid ${seen.holder.pid})` : ''}`;
  return `shut it down first: xenkit shutdown ${seen.name} (or xm shutdown ${seen.name})`;
}

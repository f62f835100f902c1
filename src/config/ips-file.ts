/**
 * The address pool behind `--ip=auto`. xen-tools 4.9.2 reads `ipfile` (/etc/xen-tools/ips.txt):
 * one address a line, and marks the one it takes by rewriting its line to `ADDRESS: used`.
 * xenkit reads the same file, honours those marks, also accepts CIDR ranges (`192.168.1.0/28`:
 * every host address of it), and never rewrites the admin's file: an address counts as used when
 * it is marked, when any domain config in /etc/xen names it in a vif `ip=`, or when it is listed
 * in the state file /var/lib/xenkit/ips.used (`ADDRESS NAME`), written under a lock.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError, usageError, ValidationErrors, type XenkitError } from '../errors.js';
import { broadcastOf, formatIp, networkOf, parseIp, parseIpWithPrefix } from '../model/net-address.js';
import type { Paths } from '../paths.js';
import { withLock } from '../plan/lock-file.js';
import { ensureOwnDir } from '../plan/own-dir.js';

/** One line of the pool: a single address or a range. */
export interface PoolEntry {
  /** First and last usable address, inclusive (equal for a single address). */
  first: bigint;
  last: bigint;
  family: 4 | 6;
  /** Prefix length when the line was a CIDR range. */
  prefix: number | undefined;
  /** Marked `: used` by xen-tools. */
  isMarkedUsed: boolean;
  line: number;
}

/** An address handed out by the pool. */
export interface PoolAddress {
  address: string;
  prefix: number | undefined;
  /** The ips file it came from. */
  file: string;
}

/** Most addresses looked at in one range, so an IPv6 /64 does not mean 2^64 steps. */
const MAX_SCAN = 65_536;

/** Parses an ips file; bad lines are errors naming file and line. */
export function parseIpsFile(text: string, file: string): PoolEntry[] {
  const entries: PoolEntry[] = [];
  const errors: XenkitError[] = [];
  text.split('\n').forEach((raw, index) => {
    const content = (raw.split('#', 1)[0] ?? '').trim();
    if (content === '') return;
    const match = /^(\S+?)(:\s*used)?$/i.exec(content);
    const body = match?.[1] ?? content;
    const what = `${file}:${index + 1}:`;
    try {
      const { address, prefix } = parseIpWithPrefix(body, what);
      let first = address.value;
      let last = address.value;
      if (prefix !== undefined) {
        first = networkOf(address, prefix).value;
        last = broadcastOf(address, prefix).value;
        // The network and broadcast addresses of an IPv4 subnet are not hosts.
        if (address.family === 4 && prefix <= 30) {
          first += 1n;
          last -= 1n;
        }
      }
      entries.push({
        first,
        last,
        family: address.family,
        prefix,
        isMarkedUsed: Boolean(match?.[2]),
        line: index + 1,
      });
    } catch {
      errors.push(
        usageError(
          'E_IPFILE',
          `${file}:${index + 1}: "${content}" is not an address or range`,
          'one address (192.168.1.100) or CIDR range (192.168.1.0/28) a line',
        ),
      );
    }
  });
  if (errors.length > 0) throw new ValidationErrors(errors);
  return entries;
}

/** The state file of addresses claimed by xenkit. */
export function usedStateFile(paths: Paths): string {
  return path.join(paths.libDir, 'ips.used');
}

async function readOptional(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

/** Addresses in use: vif `ip=` of every domain config in the output directory, and claimed ones. */
export async function findUsedAddresses(paths: Paths, configDir = paths.xenDir): Promise<Set<string>> {
  const used = new Set<string>();
  const add = (text: string): void => {
    try {
      used.add(parseIp(text, 'address').text);
    } catch {
      // not an address: ignore
    }
  };
  let names: string[];
  try {
    names = await readdir(configDir);
  } catch {
    names = [];
  }
  for (const name of names.filter((n) => n.endsWith('.cfg'))) {
    const text = await readOptional(path.join(configDir, name));
    for (const line of text.split('\n').filter((l) => /\bvif\b|ip=/.test(l))) {
      for (const match of line.matchAll(/\bip=([0-9A-Fa-f.:]+)/g)) if (match[1]) add(match[1]);
    }
  }
  for (const line of (await readOptional(usedStateFile(paths))).split('\n')) {
    const [address] = line.trim().split(/\s+/);
    if (address) add(address);
  }
  return used;
}

/**
 * The first free address of the pool file, without claiming it; undefined when none is left.
 * `preferred` (the address validation showed) is taken first when it is still free.
 */
export async function findFreeIp(
  paths: Paths,
  ipfile: string,
  configDir?: string,
  preferred?: string,
): Promise<PoolAddress | undefined> {
  const text = await readFile(ipfile, 'utf8');
  const entries = parseIpsFile(text, ipfile).filter((entry) => !entry.isMarkedUsed);
  const used = await findUsedAddresses(paths, configDir);
  const wanted = preferred === undefined ? undefined : parseIp(preferred, 'address');
  if (wanted && !used.has(wanted.text)) {
    const entry = entries.find(
      (e) => e.family === wanted.family && e.first <= wanted.value && wanted.value <= e.last,
    );
    if (entry) return { address: wanted.text, prefix: entry.prefix, file: ipfile };
  }
  for (const entry of entries) {
    for (let value = entry.first, n = 0; value <= entry.last && n < MAX_SCAN; value += 1n, n += 1) {
      const address = formatIp(entry.family, value);
      if (!used.has(address)) return { address, prefix: entry.prefix, file: ipfile };
    }
  }
  return undefined;
}

/**
 * Takes a free address for `name` under the lock (`preferred` when it is still free, else the
 * first one) and records it; throws when none is left. Finding and recording under one lock is
 * what keeps two runs from taking the same address. `beforeClaim` is told the address, still under
 * the lock, before it is recorded (a run journals its claim there, so a killed run's is found).
 */
export async function claimIp(
  paths: Paths,
  ipfile: string,
  name: string,
  configDir?: string,
  preferred?: string,
  beforeClaim?: (address: string) => void,
): Promise<PoolAddress> {
  return withLock(path.join(paths.lockDir, 'ips.lock'), 'the address pool', async () => {
    const free = await findFreeIp(paths, ipfile, configDir, preferred);
    if (!free) {
      throw runtimeError(
        'E_IP_EXHAUSTED',
        `no free address left in ${ipfile}`,
        'add addresses or ranges to it, or give --ip=ADDRESS',
      );
    }
    const state = usedStateFile(paths);
    ensureOwnDir(path.dirname(state));
    beforeClaim?.(free.address);
    const before = await readOptional(state);
    await writeFile(
      state,
      `${before}${before && !before.endsWith('\n') ? '\n' : ''}${free.address} ${name}\n`,
    );
    return free;
  });
}

/**
 * Gives a claimed address back (the undo of claimIp); with `name`, only its claim for that guest.
 * Returns whether a claim was there to give back.
 */
export async function releaseIp(paths: Paths, address: string, name?: string): Promise<boolean> {
  return withLock(path.join(paths.lockDir, 'ips.lock'), 'the address pool', async () => {
    const state = usedStateFile(paths);
    const lines = (await readOptional(state)).split('\n').filter((line) => line.trim());
    const isClaim = (line: string): boolean => {
      const [claimed, owner] = line.trim().split(/\s+/);
      return claimed === address && (name === undefined || owner === name);
    };
    const kept = lines.filter((line) => !isClaim(line));
    if (kept.length === lines.length) return false;
    await writeFile(state, kept.map((line) => `${line}\n`).join(''));
    return true;
  });
}

/**
 * What `xenkit audit` concludes from the identity read out of each guest: identity two guests
 * share (what a copy made with cp, dd or tar carries along), and identity that is weak on its own.
 * Pure: the facts come from audit-read.ts.
 */

/** An SSH host key of a guest. */
export interface HostKeyFact {
  /** Path in the guest (`/etc/ssh/ssh_host_ed25519_key.pub`). */
  file: string;
  /** ED25519, ECDSA, RSA, DSA. */
  type: string;
  bits: number;
  fingerprint: string;
  /** When the file was created (ms since the epoch), if the filesystem says. */
  bornAt: number | undefined;
}

/** One filesystem (or swap) of a guest. */
export interface DiskFact {
  image: string;
  fsType: string | undefined;
  uuid: string | undefined;
}

/** One boot in the guest's journal. */
export interface BootFact {
  first: number;
  last: number;
  crngReady: number | undefined;
}

/** Everything the audit read about one guest. */
export interface GuestFacts {
  name: string;
  cfgPath: string;
  /** MACs of the cfg's vifs (upper case). */
  macs: string[];
  disks: DiskFact[];
  /** The image holding the root filesystem and how it was read. */
  root: { image: string; method: 'debugfs' | 'mount' } | undefined;
  hostKeys: HostKeyFact[];
  /** Private DSA host keys, by path in the guest. */
  dsaKeyFiles: string[];
  /** /etc/machine-id trimmed; undefined when missing. */
  machineId: string | undefined;
  /** /var/lib/systemd/random-seed: size and digest; undefined when missing. */
  randomSeed: { size: number; sha256: string } | undefined;
  /** Boots in /var/log/journal; undefined when there is none. */
  boots: BootFact[] | undefined;
  /** What could not be read (the guest is then not vouched for). */
  problems: string[];
}

/** Facts with nothing read yet. */
export function emptyGuestFacts(name: string, cfgPath: string): GuestFacts {
  return {
    name,
    cfgPath,
    macs: [],
    disks: [],
    root: undefined,
    hostKeys: [],
    dsaKeyFiles: [],
    machineId: undefined,
    randomSeed: undefined,
    boots: undefined,
    problems: [],
  };
}

export type FindingKind =
  | 'shared-host-key'
  | 'shared-machine-id'
  | 'shared-fs-uuid'
  | 'shared-mac'
  | 'shared-random-seed'
  | 'weak-rsa-key'
  | 'dsa-key'
  | 'key-before-crng'
  | 'no-random-seed'
  | 'empty-random-seed'
  | 'unreadable';

/** One problem, with every guest and file it concerns. */
export interface Finding {
  kind: FindingKind;
  message: string;
  /** The shared value (fingerprint, id, UUID, MAC) or the weak key's fingerprint. */
  value: string | undefined;
  where: { guest: string; file: string }[];
}

/** RSA keys below this many bits are weak (NIST SP 800-57: 2048 is the floor). */
export const MIN_RSA_BITS = 2048;
export const RANDOM_SEED_FILE = '/var/lib/systemd/random-seed';
const MACHINE_ID_FILE = '/etc/machine-id';

/** A machine-id that names no machine: empty (first boot pending) or systemd's placeholder. */
function isRealMachineId(id: string | undefined): id is string {
  return id !== undefined && id !== '' && id !== 'uninitialized';
}

/** Groups `items` by `key`, keeping the groups of two or more guests. */
function shared<T>(
  items: { guest: string; file: string; item: T }[],
  key: (item: T) => string | undefined,
): Map<string, { guest: string; file: string }[]> {
  const groups = new Map<string, { guest: string; file: string }[]>();
  for (const { guest, file, item } of items) {
    const k = key(item);
    if (k === undefined) continue;
    const list = groups.get(k) ?? [];
    if (!list.some((w) => w.guest === guest && w.file === file)) list.push({ guest, file });
    groups.set(k, list);
  }
  for (const [k, list] of groups) if (new Set(list.map((w) => w.guest)).size < 2) groups.delete(k);
  return groups;
}

function guestsOf(where: { guest: string }[]): string {
  return [...new Set(where.map((w) => w.guest))].join(', ');
}

/** The key's creation time falls in a boot of the guest before its CRNG was ready. */
function bootBeforeCrng(key: HostKeyFact, boots: BootFact[] | undefined): BootFact | undefined {
  if (key.bornAt === undefined) return undefined;
  const at = key.bornAt;
  return boots?.find((b) => b.crngReady !== undefined && at >= b.first && at < b.crngReady);
}

/** Every finding over `guests`, shared identity first, then each guest's own. */
export function findIdentityProblems(guests: readonly GuestFacts[]): Finding[] {
  const findings: Finding[] = [];
  const add = (
    kind: FindingKind,
    value: string | undefined,
    where: Finding['where'],
    message: string,
  ): void => {
    findings.push({ kind, value, where, message });
  };
  const keys = guests.flatMap((g) => g.hostKeys.map((k) => ({ guest: g.name, file: k.file, item: k })));
  for (const [print, where] of shared(keys, (k) => k.fingerprint))
    add('shared-host-key', print, where, `guests ${guestsOf(where)} have the same SSH host key ${print}`);
  const ids = guests.map((g) => ({ guest: g.name, file: MACHINE_ID_FILE, item: g.machineId }));
  for (const [id, where] of shared(ids, (m) => (isRealMachineId(m) ? m : undefined)))
    add('shared-machine-id', id, where, `guests ${guestsOf(where)} have the same machine-id ${id}`);
  const disks = guests.flatMap((g) => g.disks.map((d) => ({ guest: g.name, file: d.image, item: d })));
  for (const [uuid, where] of shared(disks, (d) => d.uuid?.toLowerCase()))
    add(
      'shared-fs-uuid',
      uuid,
      where,
      `guests ${guestsOf(where)} have filesystems with the same UUID ${uuid}`,
    );
  const macs = guests.flatMap((g) => g.macs.map((mac) => ({ guest: g.name, file: g.cfgPath, item: mac })));
  for (const [mac, where] of shared(macs, (m) => m.toUpperCase()))
    add('shared-mac', mac, where, `guests ${guestsOf(where)} have the same MAC ${mac}`);
  const seeds = guests.map((g) => ({ guest: g.name, file: RANDOM_SEED_FILE, item: g.randomSeed }));
  for (const [digest, where] of shared(seeds, (s) => (s && s.size > 0 ? s.sha256 : undefined)))
    add(
      'shared-random-seed',
      undefined,
      where,
      `guests ${guestsOf(where)} have the same random seed (sha256 ${digest.slice(0, 16)}...)`,
    );

  for (const g of guests) {
    const here = (file: string): Finding['where'] => [{ guest: g.name, file }];
    for (const problem of g.problems)
      add('unreadable', undefined, here(g.cfgPath), `guest "${g.name}": ${problem}`);
    for (const key of g.hostKeys) {
      if (key.type === 'RSA' && key.bits < MIN_RSA_BITS)
        add(
          'weak-rsa-key',
          key.fingerprint,
          here(key.file),
          `guest "${g.name}": ${key.file} is an RSA key of ${key.bits} bits (under ${MIN_RSA_BITS})`,
        );
      if (key.type === 'DSA')
        add(
          'dsa-key',
          key.fingerprint,
          here(key.file),
          `guest "${g.name}": ${key.file} is a DSA key (1024 bits, disabled since OpenSSH 7.0)`,
        );
      const boot = bootBeforeCrng(key, g.boots);
      if (boot)
        add(
          'key-before-crng',
          key.fingerprint,
          here(key.file),
          `guest "${g.name}": ${key.file} was made ${Math.round(((boot.crngReady ?? 0) - (key.bornAt ?? 0)) / 1000)} s before the kernel's CRNG was ready (journal)`,
        );
    }
    for (const file of g.dsaKeyFiles) {
      if (!g.hostKeys.some((k) => k.type === 'DSA' && k.file === `${file}.pub`))
        add(
          'dsa-key',
          undefined,
          here(file),
          `guest "${g.name}": ${file} is a DSA host key (disabled since OpenSSH 7.0)`,
        );
    }
    if (!g.root) continue;
    if (!g.randomSeed)
      add(
        'no-random-seed',
        undefined,
        here(RANDOM_SEED_FILE),
        `guest "${g.name}": no ${RANDOM_SEED_FILE}: its first boot starts without a seed`,
      );
    else if (g.randomSeed.size === 0)
      add(
        'empty-random-seed',
        undefined,
        here(RANDOM_SEED_FILE),
        `guest "${g.name}": ${RANDOM_SEED_FILE} is empty`,
      );
  }
  return findings;
}

/** The findings that concern at least one of `names` (all of them when `names` is empty). */
export function findingsFor(findings: readonly Finding[], names: readonly string[]): Finding[] {
  if (names.length === 0) return [...findings];
  return findings.filter((f) => f.where.some((w) => names.includes(w.guest)));
}

import { describe, expect, it } from 'vitest';
import { findIdentityProblems, findingsFor, type GuestFacts } from '../../src/images/audit-findings.js';

/** A guest as xenkit builds it: three fresh keys, an empty machine-id, a seed, its own UUIDs and MAC. */
function guest(name: string, n: number, overrides: Partial<GuestFacts> = {}): GuestFacts {
  return {
    name,
    cfgPath: `/etc/xen/${name}.cfg`,
    macs: [`00:16:3E:00:00:0${n}`],
    disks: [
      {
        image: `/srv/domains/${name}/disk.img`,
        fsType: 'ext4',
        uuid: `0000000${n}-aaaa-4aaa-8aaa-000000000000`,
      },
      {
        image: `/srv/domains/${name}/swap.img`,
        fsType: 'swap',
        uuid: `0000000${n}-bbbb-4bbb-8bbb-000000000000`,
      },
    ],
    root: { image: `/srv/domains/${name}/disk.img`, method: 'debugfs' },
    hostKeys: [
      {
        file: '/etc/ssh/ssh_host_ed25519_key.pub',
        type: 'ED25519',
        bits: 256,
        fingerprint: `SHA256:ed${n}`,
        bornAt: 1000,
      },
      {
        file: '/etc/ssh/ssh_host_rsa_key.pub',
        type: 'RSA',
        bits: 3072,
        fingerprint: `SHA256:rsa${n}`,
        bornAt: 1000,
      },
    ],
    dsaKeyFiles: [],
    machineId: '',
    randomSeed: { size: 512, sha256: `seed${n}` },
    boots: undefined,
    problems: [],
    ...overrides,
  };
}

/** A copy of `source` made with cp or tar and given a cfg of its own name (same MAC inside). */
function copyOf(source: GuestFacts, name: string): GuestFacts {
  return {
    ...source,
    name,
    cfgPath: `/etc/xen/${name}.cfg`,
    disks: source.disks.map((d) => ({ ...d, image: d.image.replace(`/${source.name}/`, `/${name}/`) })),
    root: { image: `/srv/domains/${name}/disk.img`, method: 'debugfs' },
  };
}

const kinds = (facts: GuestFacts[]): string[] => findIdentityProblems(facts).map((f) => f.kind);

describe('findIdentityProblems', () => {
  it('finds nothing in guests that each have their own identity', () => {
    expect(findIdentityProblems([guest('a', 1), guest('b', 2), guest('c', 3)])).toEqual([]);
  });

  it('does not call two empty machine-ids (first boot pending) shared', () => {
    expect(kinds([guest('a', 1, { machineId: '' }), guest('b', 2, { machineId: 'uninitialized' })])).toEqual(
      [],
    );
  });

  it('finds everything a hand copy shares with its source, naming guest and file', () => {
    const a = guest('a', 1, { machineId: '0123456789abcdef0123456789abcdef' });
    const findings = findIdentityProblems([a, copyOf(a, 'a2'), guest('b', 2)]);
    expect(findings.map((f) => f.kind).sort()).toEqual([
      'shared-fs-uuid',
      'shared-fs-uuid',
      'shared-host-key',
      'shared-host-key',
      'shared-mac',
      'shared-machine-id',
      'shared-random-seed',
    ]);
    const key = findings.find((f) => f.kind === 'shared-host-key' && f.value === 'SHA256:ed1');
    expect(key?.where).toEqual([
      { guest: 'a', file: '/etc/ssh/ssh_host_ed25519_key.pub' },
      { guest: 'a2', file: '/etc/ssh/ssh_host_ed25519_key.pub' },
    ]);
    const uuid = findings.find((f) => f.kind === 'shared-fs-uuid' && f.value?.startsWith('00000001-aaaa'));
    expect(uuid?.where.map((w) => w.file)).toEqual(['/srv/domains/a/disk.img', '/srv/domains/a2/disk.img']);
    expect(findings.find((f) => f.kind === 'shared-mac')?.where.map((w) => w.file)).toEqual([
      '/etc/xen/a.cfg',
      '/etc/xen/a2.cfg',
    ]);
    expect(findings.every((f) => !f.where.some((w) => w.guest === 'b'))).toBe(true);
  });

  it('compares MACs regardless of case', () => {
    expect(kinds([guest('a', 1), guest('b', 2, { macs: ['00:16:3e:00:00:01'] })])).toEqual(['shared-mac']);
  });

  it.each([
    ['an RSA key under 2048 bits', { type: 'RSA', bits: 1024 }, 'weak-rsa-key'],
    ['a DSA key', { type: 'DSA', bits: 1024 }, 'dsa-key'],
  ])('finds %s', (_what, key, kind) => {
    const weak = guest('a', 1);
    weak.hostKeys[1] = { ...weak.hostKeys[1]!, ...key, file: '/etc/ssh/ssh_host_x_key.pub' };
    const findings = findIdentityProblems([weak]);
    expect(findings.map((f) => f.kind)).toEqual([kind]);
    expect(findings[0]?.where).toEqual([{ guest: 'a', file: '/etc/ssh/ssh_host_x_key.pub' }]);
  });

  it('accepts an RSA key of exactly 2048 bits', () => {
    const a = guest('a', 1);
    a.hostKeys[1] = { ...a.hostKeys[1]!, bits: 2048 };
    expect(kinds([a])).toEqual([]);
  });

  it('finds a private DSA host key without its public half', () => {
    expect(kinds([guest('a', 1, { dsaKeyFiles: ['/etc/ssh/ssh_host_dsa_key'] })])).toEqual(['dsa-key']);
  });

  it.each([
    ['missing', undefined, 'no-random-seed'],
    ['empty', { size: 0, sha256: 'e3b0' }, 'empty-random-seed'],
  ])('finds a random seed that is %s', (_what, randomSeed, kind) => {
    expect(kinds([guest('a', 1, { randomSeed })])).toEqual([kind]);
  });

  it('does not call two empty seeds shared, only empty', () => {
    const empty = { size: 0, sha256: 'e3b0' };
    expect(kinds([guest('a', 1, { randomSeed: empty }), guest('b', 2, { randomSeed: empty })])).toEqual([
      'empty-random-seed',
      'empty-random-seed',
    ]);
  });

  it('finds a host key made in a boot before the CRNG was ready, and only then', () => {
    const boots = [
      { first: 500, last: 5000, crngReady: 2000 },
      { first: 10_000, last: 20_000, crngReady: 10_100 },
    ];
    const a = guest('a', 1, { boots });
    expect(kinds([a])).toEqual(['key-before-crng', 'key-before-crng']);
    // made on the host before the first boot, or after the CRNG was ready
    const b = guest('b', 2, { boots });
    b.hostKeys = b.hostKeys.map((k, i) => ({ ...k, bornAt: i === 0 ? 100 : 2000 }));
    expect(kinds([b])).toEqual([]);
    // a boot that never said its CRNG was ready is no evidence either way
    expect(kinds([guest('c', 3, { boots: [{ first: 500, last: 5000, crngReady: undefined }] })])).toEqual([]);
  });

  it('reports what could not be read', () => {
    const findings = findIdentityProblems([guest('a', 1, { problems: ['/srv/x.img is missing'] })]);
    expect(findings.map((f) => f.message)).toEqual(['guest "a": /srv/x.img is missing']);
  });
});

describe('findingsFor', () => {
  it('keeps the findings that concern a named guest, all of them without names', () => {
    const a = guest('a', 1);
    const all = findIdentityProblems([a, copyOf(a, 'a2'), guest('b', 2, { randomSeed: undefined })]);
    expect(findingsFor(all, [])).toHaveLength(all.length);
    expect(findingsFor(all, ['b']).map((f) => f.kind)).toEqual(['no-random-seed']);
    expect(findingsFor(all, ['a2']).every((f) => f.where.some((w) => w.guest === 'a2'))).toBe(true);
  });
});

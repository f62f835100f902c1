import { chmod, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  canonicalJson,
  computeRootfsKey,
  gatherRootfsKeyFields,
  memoizedVersionReader,
  ROOTFS_CACHE_FORMAT,
  type RootfsKeyFields,
} from '../../src/install/rootfs-cache-key.js';
import { guestInitramfsConfigSha256 } from '../../src/install/guest-initramfs.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';

const BASE: RootfsKeyFields = {
  format: ROOTFS_CACHE_FORMAT,
  installer: 'mmdebstrap',
  installerVersion: 'mmdebstrap 1.3.5',
  suite: 'bookworm',
  architecture: 'amd64',
  variant: 'apt',
  mirrors: ['http://deb.debian.org/debian'],
  components: ['main'],
  packages: ['linux-image-amd64', 'openssh-server'],
  keyringSha256: 'a'.repeat(64),
  initramfsConfigSha256: 'c'.repeat(64),
};

const fixedVersion = async (program: string): Promise<string> => `${program} 1.0`;

describe('computeRootfsKey', () => {
  it('gives the same 32-hex-digit key for the same fields', () => {
    expect(computeRootfsKey(BASE)).toMatch(/^[0-9a-f]{32}$/);
    expect(computeRootfsKey({ ...BASE })).toBe(computeRootfsKey(BASE));
  });

  it('does not depend on the order of object keys', () => {
    const reordered = Object.fromEntries(Object.entries(BASE).reverse()) as unknown as RootfsKeyFields;
    expect(computeRootfsKey(reordered)).toBe(computeRootfsKey(BASE));
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
  });

  it.each<[string, Partial<RootfsKeyFields>]>([
    ['the release', { suite: 'trixie' }],
    ['the architecture', { architecture: 'arm64' }],
    ['the mirror', { mirrors: ['http://ftp.de.debian.org/debian'] }],
    [
      'an extra suite line',
      { mirrors: [...BASE.mirrors, 'deb http://deb.debian.org/debian bookworm-updates main'] },
    ],
    ['the variant', { variant: 'minbase' }],
    ['one more package', { packages: [...BASE.packages, 'vim'] }],
    ['the installer', { installer: 'debootstrap' }],
    ['the installer version', { installerVersion: 'mmdebstrap 1.4.0' }],
    ['the components', { components: ['main', 'contrib'] }],
    ['the keyring content', { keyringSha256: 'b'.repeat(64) }],
    ['no keyring', { keyringSha256: null }],
    ["xenkit's initramfs configuration", { initramfsConfigSha256: 'd'.repeat(64) }],
    ['the cache format', { format: ROOTFS_CACHE_FORMAT + 1 }],
  ])('changes when %s changes', (_what, change) => {
    expect(computeRootfsKey({ ...BASE, ...change })).not.toBe(computeRootfsKey(BASE));
  });
});

describe('gatherRootfsKeyFields', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes mirrors (with updates and security), variant, packages and the keyring content from the mmdebstrap request', async () => {
    const keyring = path.join(dir, 'keyring.gpg');
    await writeFile(keyring, 'keys');
    const install = makeInstallSpec({ keyring, extraPackages: ['openssh-server', 'linux-image-amd64'] });
    const fields = await gatherRootfsKeyFields({ install, target: '/t', packages: ['acl'] }, fixedVersion);
    expect(fields).toMatchObject({
      installer: 'mmdebstrap',
      installerVersion: 'mmdebstrap 1.0',
      suite: 'bookworm',
      architecture: 'amd64',
      variant: 'apt',
      keyringSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      initramfsConfigSha256: guestInitramfsConfigSha256(),
    });
    expect(fields?.mirrors[0]).toBe('http://deb.debian.org/debian');
    expect(fields?.mirrors.some((m) => m.includes('bookworm-security'))).toBe(true);
    expect(fields?.packages).toEqual([...(fields?.packages ?? [])].sort());
    expect(fields?.packages).toEqual(expect.arrayContaining(['acl', 'linux-image-amd64', 'openssh-server']));
  });

  it('gives the same key whatever the order of the extra packages', async () => {
    const one = await gatherRootfsKeyFields(
      { install: makeInstallSpec({ extraPackages: ['a', 'b'] }), target: '/t', packages: [] },
      fixedVersion,
    );
    const two = await gatherRootfsKeyFields(
      { install: makeInstallSpec({ extraPackages: ['b', 'a'] }), target: '/x', packages: [] },
      fixedVersion,
    );
    expect(one && computeRootfsKey(one)).toBe(two && computeRootfsKey(two));
  });

  it('keys the initramfs configuration only when a kernel is installed', async () => {
    const without = await gatherRootfsKeyFields(
      {
        install: makeInstallSpec({ extraPackages: [] }),
        target: '/t',
        packages: ['acl'],
        withBasePackages: false,
      },
      fixedVersion,
    );
    expect(without?.packages.some((p) => p.startsWith('linux-image-'))).toBe(false);
    expect(without?.initramfsConfigSha256).toBeNull();
    expect(guestInitramfsConfigSha256()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes the keyring content, so a changed keyring file changes the key', async () => {
    const keyring = path.join(dir, 'k.gpg');
    await writeFile(keyring, 'one');
    const request = { install: makeInstallSpec({ keyring }), target: '/t', packages: [] };
    const before = await gatherRootfsKeyFields(request, fixedVersion);
    await writeFile(keyring, 'two');
    const after = await gatherRootfsKeyFields(request, fixedVersion);
    expect(before?.keyringSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(after?.keyringSha256).not.toBe(before?.keyringSha256);
  });

  it.each([
    ['copy', { method: 'copy' as const, source: '/srv/tree' }],
    ['tar', { method: 'tar' as const, source: '/srv/t.tar' }],
    ['--install=0', { enabled: false }],
  ])('caches nothing for %s', async (_what, overrides) => {
    const request = { install: makeInstallSpec(overrides), target: '/t', packages: [] };
    expect(await gatherRootfsKeyFields(request, fixedVersion)).toBeUndefined();
  });

  it('names debootstrap with its minbase variant and single mirror', async () => {
    const request = { install: makeInstallSpec({ method: 'debootstrap' }), target: '/t', packages: [] };
    const fields = await gatherRootfsKeyFields(request, fixedVersion);
    expect(fields).toMatchObject({
      installer: 'debootstrap',
      variant: 'minbase',
      mirrors: ['http://deb.debian.org/debian'],
    });
  });
});

describe('memoizedVersionReader', () => {
  let dir: string;
  const savedPath = process.env.PATH;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-ver-'));
    // A fake installer that counts how often it was asked.
    await writeFile(
      path.join(dir, 'fakestrap'),
      `#!/bin/sh\necho run >> "${dir}/calls"\necho "fakestrap 9.9"\n`,
    );
    await chmod(path.join(dir, 'fakestrap'), 0o755);
    process.env.PATH = `${dir}:${savedPath ?? ''}`;
  });
  afterEach(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  it('runs PROGRAM --version once and remembers it until the program file changes', async () => {
    const read = memoizedVersionReader(path.join(dir, 'memo', 'installers.json'));
    expect(await read('fakestrap')).toBe('fakestrap 9.9');
    expect(await read('fakestrap')).toBe('fakestrap 9.9');
    const calls = async (): Promise<number> =>
      (await readFile(path.join(dir, 'calls'), 'utf8')).split('\n').filter(Boolean).length;
    expect(await calls()).toBe(1);
    const later = new Date(Date.now() + 5000);
    await utimes(path.join(dir, 'fakestrap'), later, later);
    expect(await read('fakestrap')).toBe('fakestrap 9.9');
    expect(await calls()).toBe(2);
  });

  it('uses the line a failing --version printed, but asks again next time', async () => {
    await writeFile(
      path.join(dir, 'oddstrap'),
      `#!/bin/sh\necho run >> "${dir}/odd-calls"\necho "oddstrap 1.0"\nexit 1\n`,
    );
    await chmod(path.join(dir, 'oddstrap'), 0o755);
    const read = memoizedVersionReader(path.join(dir, 'memo', 'installers.json'));
    expect(await read('oddstrap')).toBe('oddstrap 1.0');
    expect(await read('oddstrap')).toBe('oddstrap 1.0');
    expect((await readFile(path.join(dir, 'odd-calls'), 'utf8')).split('\n').filter(Boolean)).toHaveLength(2);
    expect(await read('nosuchstrap')).toBe('nosuchstrap (version unknown)');
  });
});

import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  countInstalledInStatus,
  countInstalledPackages,
  findGuestKernel,
  hasShell,
  measureTreeBytes,
} from '../../src/install/tree-facts.js';

let tree: string;
beforeEach(async () => {
  tree = await mkdtemp(path.join(tmpdir(), 'xenkit-facts-'));
});
afterEach(async () => {
  await rm(tree, { recursive: true, force: true });
});

const STATUS = [
  'Package: bash',
  'Status: install ok installed',
  '',
  'Package: gone',
  'Status: deinstall ok config-files',
  '',
  'Package: half',
  'Status: install ok half-configured',
  '',
  'Package: dash',
  'Status: install ok installed',
  '',
].join('\n');

describe('countInstalledPackages', () => {
  it('counts only fully installed packages', () => {
    expect(countInstalledInStatus(STATUS)).toBe(2);
  });

  it('reads var/lib/dpkg/status of the tree and says 0 without one', async () => {
    expect(await countInstalledPackages(tree)).toBe(0);
    await mkdir(path.join(tree, 'var/lib/dpkg'), { recursive: true });
    await writeFile(path.join(tree, 'var/lib/dpkg/status'), STATUS);
    expect(await countInstalledPackages(tree)).toBe(2);
  });
});

describe('findGuestKernel', () => {
  it.each([
    [
      ['vmlinuz-6.1.0-9-amd64', 'vmlinuz-6.1.0-28-amd64', 'initrd.img-6.1.0-28-amd64'],
      '6.1.0-28-amd64',
      true,
    ],
    [
      ['vmlinuz-5.10.0-1-amd64', 'vmlinuz-6.1.0-1-amd64', 'initrd.img-5.10.0-1-amd64'],
      '6.1.0-1-amd64',
      false,
    ],
    [['vmlinuz-6.1.0-28-amd64', 'config-6.1.0-28-amd64'], '6.1.0-28-amd64', false],
  ])('picks the newest of %j', async (files, version, hasInitrd) => {
    await mkdir(path.join(tree, 'boot'));
    for (const f of files) await writeFile(path.join(tree, 'boot', f), '');
    expect(await findGuestKernel(tree)).toEqual({
      kernel: `/boot/vmlinuz-${version}`,
      initrd: hasInitrd ? `/boot/initrd.img-${version}` : undefined,
      version,
    });
  });

  it('finds nothing in a tree without /boot or without a kernel', async () => {
    expect(await findGuestKernel(tree)).toBeUndefined();
    await mkdir(path.join(tree, 'boot'));
    await writeFile(path.join(tree, 'boot/grub.cfg'), '');
    expect(await findGuestKernel(tree)).toBeUndefined();
  });
});

describe('measureTreeBytes', () => {
  it('counts every file once however many hard links it has', async () => {
    await writeFile(path.join(tree, 'a'), Buffer.alloc(1000));
    await writeFile(path.join(tree, 'b'), Buffer.alloc(500));
    const withoutLink = await measureTreeBytes(tree);
    await link(path.join(tree, 'a'), path.join(tree, 'a2'));
    expect(await measureTreeBytes(tree)).toBe(withoutLink);
    expect(withoutLink).toBeGreaterThanOrEqual(1500);
  });
});

describe('hasShell', () => {
  it('needs /bin/sh or /usr/bin/sh', async () => {
    expect(await hasShell(tree)).toBe(false);
    await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
    await writeFile(path.join(tree, 'usr/bin/sh'), '');
    expect(await hasShell(tree)).toBe(true);
  });
});

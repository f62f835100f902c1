import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { XenkitError } from '../../../src/errors.js';
import {
  chooseKernel,
  compareKernelVersions,
  extractGuestKernel,
  parseDebugfsLs,
} from '../../../src/hypervisors/qemu/guest-kernel.js';

describe('chooseKernel', () => {
  it('takes the newest version by numeric order, with its initrd when there is one', () => {
    const files = [
      'config-6.1.0-9-amd64',
      'vmlinuz-6.1.0-9-amd64',
      'vmlinuz-6.1.0-10-amd64',
      'initrd.img-6.1.0-9-amd64',
    ];
    expect(chooseKernel(files)).toEqual({ version: '6.1.0-10-amd64', hasInitrd: false });
    expect(chooseKernel([...files, 'initrd.img-6.1.0-10-amd64'])).toEqual({
      version: '6.1.0-10-amd64',
      hasInitrd: true,
    });
    expect(chooseKernel(['System.map-6.1.0-9-amd64'])).toBeUndefined();
  });

  it.each([
    ['5.10.0-9-amd64', '6.1.0-9-amd64', -1],
    ['6.1.0-10-amd64', '6.1.0-9-amd64', 1],
    ['6.1.0-9-amd64', '6.1.0-9-amd64', 0],
  ])('compares %s with %s', (a, b, sign) => {
    expect(Math.sign(compareKernelVersions(a, b))).toBe(sign);
  });
});

describe('parseDebugfsLs', () => {
  it('keeps regular files and drops directories and symlinks', () => {
    const out = [
      '/2/040755/0/0/./',
      '/2/040755/0/0/../',
      '/12/100644/0/0/vmlinuz-6.1.0-56-amd64/8060864/',
      '/13/120777/0/0/vmlinuz/27/',
      '/14/040755/0/0/grub/',
      '',
    ].join('\n');
    expect(parseDebugfsLs(out)).toEqual(['vmlinuz-6.1.0-56-amd64']);
  });
});

describe('extractGuestKernel', () => {
  it('says the root disk is missing (not "a partitioned disk?"), naming it', async () => {
    const cache = mkdtempSync(path.join(tmpdir(), 'xenkit-kernel-'));
    try {
      const target = path.join(cache, 'gone', 'disk.img');
      const disk = { target, format: 'raw', vdev: 'xvda2', access: 'rw' as const, isCdrom: false, raw: '' };
      const error = await extractGuestKernel(disk, cache, 'web1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(XenkitError);
      expect((error as XenkitError).code).toBe('E_DISK_MISSING');
      expect((error as XenkitError).message).toBe(`guest "web1": its root disk ${target} does not exist`);
      expect((error as XenkitError).hint).toMatch(/disk line of the cfg/);
      expect(readdirSync(cache)).toEqual([]);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

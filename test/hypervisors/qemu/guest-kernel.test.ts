import { describe, expect, it } from 'vitest';
import {
  chooseKernel,
  compareKernelVersions,
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

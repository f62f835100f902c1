import { describe, expect, it } from 'vitest';
import { compareVersions, mkfsArgv, mkswapArgv, parseE2fsprogsVersion } from '../../src/tools/mkfs.js';

const U = '0b1c2d3e-4f50-4162-8374-8596a7b8c9da';

describe('mkfsArgv', () => {
  it.each([
    [{ fs: 'ext4', device: '/i', uuid: U, rootDir: '/t' }, ['mkfs.ext4', '-F', '-U', U, '-d', '/t', '/i']],
    [{ fs: 'ext3', device: '/i', label: 'root' }, ['mkfs.ext3', '-F', '-L', 'root', '/i']],
    [{ fs: 'ext2', device: '/dev/sdb1' }, ['mkfs.ext2', '-F', '/dev/sdb1']],
    [
      { fs: 'xfs', device: '/i', uuid: U, label: 'r', rootDir: '/t' },
      ['mkfs.xfs', '-f', '-m', `uuid=${U}`, '-L', 'r', '/i'],
    ],
    [
      { fs: 'btrfs', device: '/i', uuid: U, rootDir: '/t' },
      ['mkfs.btrfs', '-f', '-U', U, '--rootdir', '/t', '/i'],
    ],
  ] as const)('builds the argv for %j', (options, argv) => {
    expect(mkfsArgv(options)).toEqual(argv);
  });

  it('uses a make_fs_<fs> override as is, with the device appended like xen-tools', () => {
    expect(
      mkfsArgv({
        fs: 'ext4',
        device: '/i',
        uuid: U,
        rootDir: '/t',
        command: ['mkfs.ext4', '-q', '-O', '^has_journal'],
      }),
    ).toEqual(['mkfs.ext4', '-q', '-O', '^has_journal', '/i']);
  });

  it('builds the mkswap argv with UUID and label', () => {
    expect(mkswapArgv('/s', U, 'swap')).toEqual(['mkswap', '-U', U, '-L', 'swap', '/s']);
  });
});

describe('parseE2fsprogsVersion', () => {
  it.each([
    ['mke2fs 1.47.0 (5-Feb-2023)\n\tUsing EXT2FS Library version 1.47.0\n', [1, 47, 0]],
    ['mke2fs 1.42.9 (28-Dec-2013)', [1, 42, 9]],
    ['something else', undefined],
  ])('reads %j', (text, version) => {
    expect(parseE2fsprogsVersion(text)).toEqual(version);
  });

  it.each([
    [[1, 47, 0], [1, 43], 1],
    [[1, 42, 9], [1, 43], -1],
    [[1, 43], [1, 43, 0], 0],
  ])('compares %j with %j', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});

import { describe, expect, it } from 'vitest';
import { mountArgv, parseMountInfo, umountArgv } from '../../src/tools/mount.js';

describe('mount argv', () => {
  it.each([
    [{}, ['mount', '--', '/dev/loop0', '/mnt']],
    [
      { fsType: 'xfs', options: ['ro', 'noatime'] },
      ['mount', '-t', 'xfs', '-o', 'ro,noatime', '--', '/dev/loop0', '/mnt'],
    ],
  ])('builds mount with %j', (options, argv) => {
    expect(mountArgv('/dev/loop0', '/mnt', options)).toEqual(argv);
  });

  it('unmounts lazily only when asked', () => {
    expect(umountArgv('/mnt')).toEqual(['umount', '--', '/mnt']);
    expect(umountArgv('/mnt', true)).toEqual(['umount', '--lazy', '--', '/mnt']);
  });
});

describe('parseMountInfo', () => {
  it('reads device numbers, mount points with escapes, types and sources', () => {
    const text = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '98 22 7:3 / /tmp/with\\040space rw,relatime - xfs /dev/loop3 rw,attr2',
      '99 22 0:51 / /srv/b rw - btrfs /dev/loop4 rw,space_cache=v2',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { majorMinor: '254:0', mountPoint: '/', fsType: 'ext4', source: '/dev/vda' },
      { majorMinor: '7:3', mountPoint: '/tmp/with space', fsType: 'xfs', source: '/dev/loop3' },
      { majorMinor: '0:51', mountPoint: '/srv/b', fsType: 'btrfs', source: '/dev/loop4' },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  isSnapshotInvalid,
  isVolumeOpen,
  lvcreateArgv,
  lvSnapshotArgv,
  lvextendArgv,
  lvremoveArgv,
  parseLvsJson,
  parseVgsJson,
  zeroDeviceArgv,
} from '../../src/tools/lvm.js';

// Recorded from lvm2 2.03.16 (Debian 12) inside a test VM.
const LVS = `  {
      "report": [
          {
              "lv": [
                  {"lv_name":"pool0", "vg_name":"vg0", "lv_size":"1258291200", "pool_lv":"", "lv_attr":"twi-aotz--", "lv_path":""},
                  {"lv_name":"web1-disk", "vg_name":"vg0", "lv_size":"1073741824", "pool_lv":"", "lv_attr":"-wi-ao----", "lv_path":"/dev/vg0/web1-disk"},
                  {"lv_name":"thin1-disk", "vg_name":"vg0", "lv_size":"1073741824", "pool_lv":"pool0", "lv_attr":"Vwi-a-tz--", "lv_path":"/dev/vg0/thin1-disk"}
              ]
          }
      ]
  }
`;
const VGS = `{"report":[{"vg":[{"vg_name":"vg0","vg_size":"4290772992","vg_free":"1954545664","vg_extent_size":"4194304"}]}]}`;

describe('the lvm wrapper', () => {
  it.each([
    [
      { vg: 'vg0', name: 'web1-disk', sizeBytes: 1024 },
      [
        'lvcreate',
        '--yes',
        '--wipesignatures',
        'y',
        '--zero',
        'y',
        '--size',
        '1024b',
        '--name',
        'web1-disk',
        'vg0',
      ],
    ],
    [
      { vg: 'vg0', name: 'web1-disk', sizeBytes: 2048, thinPool: 'pool0' },
      [
        'lvcreate',
        '--yes',
        '--wipesignatures',
        'y',
        '--virtualsize',
        '2048b',
        '--thin',
        '--name',
        'web1-disk',
        'vg0/pool0',
      ],
    ],
  ])('builds the lvcreate argv for %j', (options, argv) => {
    expect(lvcreateArgv(options)).toEqual(argv);
  });

  it('removes, grows and zeroes with argv that never go through a shell', () => {
    expect(lvremoveArgv('vg0', 'a b')).toEqual(['lvremove', '--yes', '--force', 'vg0/a b']);
    expect(lvextendArgv('vg0', 'web1-disk', 5)).toEqual(['lvextend', '--size', '5b', 'vg0/web1-disk']);
    expect(zeroDeviceArgv('/dev/vg0/x')).toEqual(['blkdiscard', '--zeroout', '/dev/vg0/x']);
  });

  it('reads volumes from lvs JSON, with their pools, sizes in bytes and paths', () => {
    const lvs = parseLvsJson(LVS);
    expect(lvs.map((lv) => [lv.name, lv.sizeBytes, lv.pool, lv.path])).toEqual([
      ['pool0', 1258291200, undefined, '/dev/vg0/pool0'],
      ['web1-disk', 1073741824, undefined, '/dev/vg0/web1-disk'],
      ['thin1-disk', 1073741824, 'pool0', '/dev/vg0/thin1-disk'],
    ]);
    expect(lvs.map(isVolumeOpen)).toEqual([true, true, false]);
  });

  it('reads a volume group from vgs JSON', () => {
    expect(parseVgsJson(VGS)).toEqual([
      { name: 'vg0', sizeBytes: 4290772992, freeBytes: 1954545664, extentBytes: 4194304 },
    ]);
  });

  it.each([
    [
      'a thick volume with its copy-on-write room',
      67108864,
      [
        'lvcreate',
        '--yes',
        '--snapshot',
        '--name',
        'web1-disk.xenkit-snap-abc123',
        '--size',
        '67108864b',
        'vg0/web1-disk',
      ],
    ],
    [
      'a thin volume in its pool, activated',
      undefined,
      [
        'lvcreate',
        '--yes',
        '--snapshot',
        '--name',
        'web1-disk.xenkit-snap-abc123',
        '--setactivationskip',
        'n',
        '--activate',
        'y',
        'vg0/web1-disk',
      ],
    ],
  ])('snapshots %s', (_what, size, argv) => {
    expect(lvSnapshotArgv('vg0', 'web1-disk', 'web1-disk.xenkit-snap-abc123', size)).toEqual(argv);
  });

  it.each([
    ['swi-a-s---', false],
    ['swi-I-s---', true],
    ['-wi-ao----', false],
  ])('reads a snapshot with lv_attr %s as overflowed: %s', (attr, invalid) => {
    const lv = { name: 's', vg: 'vg0', sizeBytes: 1, pool: undefined, attr, path: '/dev/vg0/s' };
    expect(isSnapshotInvalid(lv)).toBe(invalid);
  });
});

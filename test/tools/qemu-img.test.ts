import { describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import {
  convertArgv,
  createImageArgv,
  createOverlayArgv,
  infoArgv,
  mapImageArgv,
  parseImageMap,
  parseQemuImgInfo,
} from '../../src/tools/qemu-img.js';

describe('qemu-img argv', () => {
  it.each([
    [undefined, ['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '/a.raw', '/a.qcow2']],
    ['off', ['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '/a.raw', '/a.qcow2']],
    [
      'falloc',
      ['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', '-o', 'preallocation=falloc', '/a.raw', '/a.qcow2'],
    ],
  ] as const)('converts with preallocation %s', (preallocation, argv) => {
    expect(
      convertArgv({
        source: '/a.raw',
        sourceFormat: 'raw',
        target: '/a.qcow2',
        targetFormat: 'qcow2',
        preallocation,
      }),
    ).toEqual(argv);
  });

  it('names the backing format of an overlay explicitly', () => {
    expect(createOverlayArgv('/b.qcow2', 'qcow2', '/o.qcow2')).toEqual([
      'qemu-img',
      'create',
      '-f',
      'qcow2',
      '-F',
      'qcow2',
      '-b',
      '/b.qcow2',
      '/o.qcow2',
    ]);
    expect(infoArgv('/x')).toEqual(['qemu-img', 'info', '-U', '--output=json', '/x']);
  });
});

describe('parseQemuImgInfo', () => {
  it('reads an overlay with its backing file', () => {
    const text = JSON.stringify({
      'backing-filename-format': 'qcow2',
      'virtual-size': 1073741824,
      filename: 'ov.qcow2',
      'cluster-size': 65536,
      format: 'qcow2',
      'actual-size': 200704,
      'full-backing-filename': '/tmp/probe/q2.qcow2',
      'backing-filename': 'q2.qcow2',
      'dirty-flag': false,
    });
    expect(parseQemuImgInfo(text)).toEqual({
      filename: 'ov.qcow2',
      format: 'qcow2',
      virtualSize: 1073741824,
      actualSize: 200704,
      clusterSize: 65536,
      backingFile: '/tmp/probe/q2.qcow2',
      backingFormat: 'qcow2',
      dirty: false,
    });
  });

  it.each(['not json', '{"filename":"x"}'])('rejects %j with E_QEMU_IMG', (text) => {
    expect(() => parseQemuImgInfo(text)).toThrow(XenkitError);
  });
});

describe('parseImageMap', () => {
  // qemu-img 7.2 map of a 64 MiB qcow2 overlay on a raw base: 2 MiB of data in the base at 10 MiB,
  // 1 MiB written in the overlay at 20 MiB, 1 MiB written as zeros at 40 MiB.
  const captured = `[{ "start": 0, "length": 10485760, "depth": 1, "present": true, "zero": true, "data": false, "offset": 0},
{ "start": 10485760, "length": 2097152, "depth": 1, "present": true, "zero": false, "data": true, "offset": 10485760},
{ "start": 12582912, "length": 8388608, "depth": 1, "present": true, "zero": true, "data": false, "offset": 12582912},
{ "start": 20971520, "length": 1048576, "depth": 0, "present": true, "zero": false, "data": true, "offset": 327680},
{ "start": 22020096, "length": 19922944, "depth": 1, "present": true, "zero": true, "data": false, "offset": 22020096},
{ "start": 41943040, "length": 1048576, "depth": 0, "present": true, "zero": true, "data": false},
{ "start": 42991616, "length": 24117248, "depth": 1, "present": true, "zero": true, "data": false, "offset": 42991616}]`;

  it('keeps the ranges the guest sees data in, from every layer of the chain', () => {
    expect(parseImageMap(captured)).toEqual([
      { start: 10485760, end: 12582912 },
      { start: 20971520, end: 22020096 },
    ]);
  });

  it('merges adjacent data ranges', () => {
    const text = JSON.stringify([
      { start: 0, length: 4096, zero: false, data: true },
      { start: 4096, length: 4096, zero: false, data: true },
      { start: 16384, length: 4096, zero: true, data: true },
    ]);
    expect(parseImageMap(text)).toEqual([{ start: 0, end: 8192 }]);
  });

  it.each(['not json', '{}', '[{"data": true}]'])('throws E_QEMU_IMG on %j', (text) => {
    expect(() => parseImageMap(text)).toThrow(XenkitError);
  });

  it('builds the map and create argv with the format explicit', () => {
    expect(mapImageArgv('/a.qcow2', 'qcow2')).toEqual([
      'qemu-img',
      'map',
      '-U',
      '--output=json',
      '-f',
      'qcow2',
      '/a.qcow2',
    ]);
    expect(createImageArgv('/b', 'qcow2', 1024)).toEqual([
      'qemu-img',
      'create',
      '-q',
      '-f',
      'qcow2',
      '/b',
      '1024',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import { convertArgv, createOverlayArgv, infoArgv, parseQemuImgInfo } from '../../src/tools/qemu-img.js';

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

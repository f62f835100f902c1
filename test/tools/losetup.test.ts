import { describe, expect, it } from 'vitest';
import { attachLoopArgv, detachLoopArgv, parseLosetupJson } from '../../src/tools/losetup.js';

describe('losetup argv and output', () => {
  it('attaches to the first free device and prints its name', () => {
    expect(attachLoopArgv('/img')).toEqual(['losetup', '--find', '--show', '/img']);
    expect(attachLoopArgv('/img', true)).toEqual(['losetup', '--find', '--show', '--read-only', '/img']);
    expect(detachLoopArgv('/dev/loop3')).toEqual(['losetup', '--detach', '/dev/loop3']);
  });

  it.each([
    ['', []],
    [
      '{"loopdevices":[{"name":"/dev/loop0","back-file":"/tmp/a b"},{"name":"/dev/loop1","back-file":null}]}',
      [
        { device: '/dev/loop0', backingFile: '/tmp/a b' },
        { device: '/dev/loop1', backingFile: undefined },
      ],
    ],
  ])('parses %j', (text, loops) => {
    expect(parseLosetupJson(text)).toEqual(loops);
  });
});

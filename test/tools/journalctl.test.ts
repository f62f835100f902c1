import { describe, expect, it } from 'vitest';
import { kernelMessagesArgv, parseKernelBoots } from '../../src/tools/journalctl.js';

const entry = (boot: string, atUs: number, message: unknown): string =>
  JSON.stringify({ __REALTIME_TIMESTAMP: String(atUs), _BOOT_ID: boot, MESSAGE: message });

describe('journalctl kernel boots', () => {
  it('reads only the kernel messages of the given directory, as JSON', () => {
    expect(kernelMessagesArgv('/tmp/j')).toEqual(
      expect.arrayContaining(['--directory', '/tmp/j', '--dmesg', '--output=json']),
    );
  });

  it('finds each boot, its span and when its CRNG was ready', () => {
    const text = [
      entry('b1', 1_000_000_000, 'Linux version 6.1.0-28-amd64'),
      entry('b1', 1_002_500_000, 'random: crng init done'),
      entry('b1', 1_030_000_000, 'EXT4-fs (xvda2): re-mounted'),
      entry('b2', 2_000_000_000, 'Linux version 6.1.0-28-amd64'),
      // journald stores text that is not UTF-8 as a byte array
      entry('b2', 2_004_000_000, [...Buffer.from('random: crng init done')]),
      'not json',
    ].join('\n');
    expect(parseKernelBoots(text)).toEqual([
      { bootId: 'b1', first: 1_000_000, last: 1_030_000, crngReady: 1_002_500 },
      { bootId: 'b2', first: 2_000_000, last: 2_004_000, crngReady: 2_004_000 },
    ]);
  });

  it('leaves crngReady undefined when the boot never says so', () => {
    expect(parseKernelBoots(entry('b', 5_000_000, 'Linux version'))).toEqual([
      { bootId: 'b', first: 5_000, last: 5_000, crngReady: undefined },
    ]);
  });
});

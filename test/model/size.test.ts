import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from '../../src/model/size.js';
import { XenkitError } from '../../src/errors.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('parseSize', () => {
  it.each([
    ['1Gb', GiB],
    ['1G', GiB],
    ['1024M', GiB],
    ['128Mb', 128 * MiB],
    ['1.5G', 1.5 * GiB],
    ['2T', 2 * 1024 * GiB],
    ['512k', 512 * 1024],
    ['4gib', 4 * GiB],
    [' 256M ', 256 * MiB],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseSize(text, 'size')).toBe(bytes);
  });

  it('takes a bare number as megabytes by default, as xen-tools does for memory', () => {
    expect(parseSize('128', 'memory')).toBe(128 * MiB);
  });

  it.each(['4X', '-1G', '0', '', 'G', '1..5G', '1 G B', 'NaN'])('rejects %j naming the input', (text) => {
    let caught: unknown;
    try {
      parseSize(text, 'size');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(XenkitError);
    expect((caught as XenkitError).kind).toBe('usage');
    expect((caught as XenkitError).message).toContain(`size "${text}"`);
    expect((caught as XenkitError).hint).toBeTruthy();
  });

  it('accepts zero only when asked to', () => {
    expect(parseSize('0', 'swap', { allowZero: true })).toBe(0);
  });
});

describe('formatSize', () => {
  it.each([
    [4 * GiB, '4G'],
    [512 * MiB, '512M'],
    [1536 * MiB, '1536M'],
    [2 * 1024 * GiB, '2T'],
  ])('writes %d as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });
});

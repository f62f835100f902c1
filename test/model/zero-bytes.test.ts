import { describe, expect, it } from 'vitest';
import { isAllZero } from '../../src/model/zero-bytes.js';

describe('isAllZero', () => {
  it.each([0, 1, 4096, 1024 * 1024, 3 * 1024 * 1024 + 7])('says yes for %i zero bytes', (size) => {
    expect(isAllZero(Buffer.alloc(size))).toBe(true);
  });

  it.each([0, 4095, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 6])(
    'finds the one non-zero byte at %i of 3 MiB and 7 bytes',
    (at) => {
      const data = Buffer.alloc(3 * 1024 * 1024 + 7);
      data[at] = 1;
      expect(isAllZero(data)).toBe(false);
    },
  );
});

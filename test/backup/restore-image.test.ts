import { describe, expect, it } from 'vitest';
import { forEachDataBlock, SPARSE_BLOCK } from '../../src/backup/restore-image.js';

/** A buffer of `pattern`: one character per SPARSE_BLOCK, '1' data, '0' zeros ('h': half a block of data). */
function blocks(pattern: string): Buffer {
  const parts = [...pattern].map((c) =>
    c === 'h' ? Buffer.alloc(SPARSE_BLOCK / 2, 7) : Buffer.alloc(SPARSE_BLOCK, c === '1' ? 7 : 0),
  );
  return Buffer.concat(parts);
}

describe('forEachDataBlock', () => {
  it.each([
    [
      '1100111',
      [
        [0, 2],
        [4, 3],
      ],
    ],
    ['0000', []],
    ['0110', [[1, 2]]],
    ['1', [[0, 1]]],
    ['01h', [[1, 1.5]]],
  ])('writes the data runs of %s in one write each, skipping zero blocks', async (pattern, runs) => {
    const data = blocks(pattern);
    const writes: [number, number][] = [];
    await forEachDataBlock(data, (block, at) => {
      expect(block.equals(data.subarray(at, at + block.length))).toBe(true);
      writes.push([at / SPARSE_BLOCK, block.length / SPARSE_BLOCK]);
      return Promise.resolve();
    });
    expect(writes).toEqual(runs);
  });
});

import { describe, expect, it } from 'vitest';
import { parseSwaps } from '../../src/storage/block-device.js';

describe('parseSwaps', () => {
  it('reads the file names of active swap areas, decoding escapes', () => {
    const text =
      'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/vdb2   partition\t1048572\t0\t-2\n/srv/swap\\040file file 1024 0 -3\n';
    expect(parseSwaps(text)).toEqual(['/dev/vdb2', '/srv/swap file']);
  });

  it('reads no swap areas from the header alone', () => {
    expect(parseSwaps('Filename\tType\tSize\tUsed\tPriority\n')).toEqual([]);
  });
});

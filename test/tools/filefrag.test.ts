/** filefrag -e output (e2fsprogs 1.47, captured from a sparse ext4 guest image) into data ranges. */
import { describe, expect, it } from 'vitest';
import { extentMapArgv, parseExtentMap } from '../../src/tools/filefrag.js';

const IMAGE = `Filesystem type is: ef53
File size of disk.img is 4294967296 (1048576 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:        0..     117:   10192896..  10193013:    118:            
   1:      123..    1099:   10193019..  10193995:    977:            
   2:     1100..    1199:   10219520..  10219619:    100:   10193996:
   3:   262144..  262144:   43841536..  43841536:      1:             last,eof
disk.img: 4 extents found
`;

describe('filefrag', () => {
  it('asks for the extents of one file, never an option', () => {
    expect(extentMapArgv('-x.img')).toEqual(['filefrag', '-e', '--', '-x.img']);
  });

  it('turns extents into merged byte ranges', () => {
    expect(parseExtentMap(IMAGE)).toEqual([
      { start: 0, end: 118 * 4096 },
      { start: 123 * 4096, end: 1200 * 4096 },
      { start: 262144 * 4096, end: 262145 * 4096 },
    ]);
  });

  it('leaves out unwritten extents, which read as zeros (fallocate -z, then one byte written)', () => {
    const text = `Filesystem type is: ef53
File size of uw is 8388608 (2048 blocks of 4096 bytes)
 ext:     logical_offset:        physical_offset: length:   expected: flags:
   0:      256..     767:   50989568..  50990079:    512:        256: unwritten
   1:     1280..    1280:   50990592..  50990592:      1:             last,eof
uw: 2 extents found
`;
    expect(parseExtentMap(text)).toEqual([{ start: 1280 * 4096, end: 1281 * 4096 }]);
  });

  it('gives an empty list for a file that is one hole', () => {
    const text = `Filesystem type is: ef53
File size of s.img is 268435456 (65536 blocks of 4096 bytes)
s.img: 0 extents found
`;
    expect(parseExtentMap(text)).toEqual([]);
  });

  it.each([
    [
      'FIBMAP fallback text',
      'Filesystem type is: 1021994\nFile size of f is 10 (1 block of 4096 bytes)\nf: 1 extent found\n',
    ],
    ['nothing', ''],
  ])('gives undefined for output that is no extent listing (%s)', (_label, text) => {
    expect(parseExtentMap(text)).toBeUndefined();
  });
});

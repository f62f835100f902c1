import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMbr } from '../../src/formats/mbr.js';

const hasPartx = ['/usr/bin/partx', '/bin/partx', '/usr/sbin/partx'].some((p) => fs.existsSync(p));

describe('renderMbr', () => {
  const layout = {
    bootCode: Buffer.alloc(440, 0xfa),
    diskSignature: 0x1234abcd,
    partitions: [{ startSector: 2048, sectors: 4_192_256, type: 0x83, bootable: true }],
  };

  it('puts the boot code, the disk signature, one bootable Linux entry and the 55AA mark in 512 bytes', () => {
    const mbr = renderMbr(layout);
    expect(mbr.length).toBe(512);
    expect(mbr.subarray(0, 440).every((b) => b === 0xfa)).toBe(true);
    expect(mbr.readUInt32LE(440)).toBe(0x1234abcd);
    expect([mbr[446], mbr[450]]).toEqual([0x80, 0x83]);
    expect([mbr.readUInt32LE(454), mbr.readUInt32LE(458)]).toEqual([2048, 4_192_256]);
    // CHS of LBA 2048 with 255 heads and 63 sectors: cylinder 0, head 32, sector 33.
    expect([...mbr.subarray(447, 450)]).toEqual([32, 33, 0]);
    // The last sector, 4194303: cylinder 261 (its top two bits in the sector byte), head 21, sector 16.
    expect([...mbr.subarray(451, 454)]).toEqual([21, 64 | 16, 261 & 0xff]);
    // Past cylinder 1023 (a 16 GiB disk) the CHS fields hold their maximum, as sfdisk writes them.
    const big = renderMbr({ ...layout, partitions: [{ ...layout.partitions[0]!, sectors: 2 ** 25 - 2048 }] });
    expect([...big.subarray(451, 454)]).toEqual([0xfe, 0xff, 0xff]);
    expect(mbr.subarray(462, 510).every((b) => b === 0)).toBe(true);
    expect([mbr[510], mbr[511]]).toEqual([0x55, 0xaa]);
  });

  it.each([
    ['boot code over 440 bytes', { ...layout, bootCode: Buffer.alloc(441) }, /440/],
    ['five partitions', { ...layout, partitions: Array(5).fill(layout.partitions[0]) }, /4 primary/],
    [
      'a partition past 2 TiB',
      { ...layout, partitions: [{ ...layout.partitions[0]!, sectors: 2 ** 32 }] },
      /fit/,
    ],
  ])('refuses %s', (_what, bad, message) => {
    expect(() => renderMbr(bad)).toThrow(message);
  });

  it.skipIf(!hasPartx)('is read back by partx as the same table', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-mbr-'));
    try {
      const file = path.join(dir, 'disk.img');
      fs.writeFileSync(file, renderMbr(layout));
      fs.truncateSync(file, 2 * 1024 ** 3);
      const rows = execFileSync('partx', ['-g', '-o', 'NR,START,SECTORS,TYPE,FLAGS', file], {
        encoding: 'utf8',
      });
      expect(rows.trim().split(/\s+/)).toEqual(['1', '2048', '4192256', '0x83', '0x80']);
      const pt = execFileSync('blkid', ['-p', '-o', 'value', '-s', 'PTUUID', file], { encoding: 'utf8' });
      expect(pt.trim()).toBe('1234abcd');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

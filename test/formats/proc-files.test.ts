import { describe, expect, it } from 'vitest';
import {
  isLockOn,
  isWritableFdInfo,
  parseFileMappings,
  parseLinkTarget,
  parseProcLocks,
  parseSmapsRss,
  splitDevice,
} from '../../src/formats/proc-files.js';

// /proc/locks while a QEMU 7.2 (-drive file=disk.img,format=raw) ran on kernel 6.1, with a
// POSIX lock of another process and a blocked waiter.
const LOCKS = `1: OFDLCK ADVISORY  READ -1 fe:00:2147267 201 201
2: OFDLCK ADVISORY  READ -1 fe:00:2147267 100 101
3: POSIX  ADVISORY  WRITE 2998 fe:00:402117 0 EOF
3: -> POSIX  ADVISORY  WRITE 3001 fe:00:402117 0 EOF
4: FLOCK  ADVISORY  WRITE 812 103:02:131 0 EOF
`;

describe('parseProcLocks', () => {
  it('reads each held lock with its owner, device and inode, leaving blocked waiters out', () => {
    expect(parseProcLocks(LOCKS)).toEqual([
      { kind: 'OFDLCK', access: 'READ', pid: undefined, major: 0xfe, minor: 0, inode: 2147267n },
      { kind: 'OFDLCK', access: 'READ', pid: undefined, major: 0xfe, minor: 0, inode: 2147267n },
      { kind: 'POSIX', access: 'WRITE', pid: 2998, major: 0xfe, minor: 0, inode: 402117n },
      { kind: 'FLOCK', access: 'WRITE', pid: 812, major: 0x103, minor: 2, inode: 131n },
    ]);
  });

  it('reads the lock lines of /proc/PID/fdinfo/N', () => {
    const fdinfo =
      'pos:\t0\nflags:\t02100002\nmnt_id:\t26\nino:\t2147267\nlock:\t1: OFDLCK ADVISORY  READ -1 fe:00:2147267 100 101\n';
    expect(parseProcLocks(fdinfo).map((l) => [l.kind, l.inode])).toEqual([['OFDLCK', 2147267n]]);
  });

  it.each(['', 'garbage\n', '1: POSIX ADVISORY WRITE 12 nodevice 0 EOF\n'])('finds no lock in %j', (text) => {
    expect(parseProcLocks(text)).toEqual([]);
  });
});

describe('device numbers', () => {
  it.each([
    // st_dev as node's stat returns it (glibc makedev), and the major:minor /proc/locks prints.
    [65024n, 0xfe, 0],
    [2049n, 8, 1],
    [66306n, 0x103, 2],
    // major 4095+1 and minor 256+ use the high bits of the 64-bit encoding.
    [(0x1000n << 32n) | (0x100n << 12n), 0x1000, 0x100],
  ])('splits %s into %i:%i', (dev, major, minor) => {
    expect(splitDevice(dev)).toEqual({ major, minor });
  });

  it('matches a lock to the file with that device and inode only', () => {
    const [lock] = parseProcLocks(LOCKS);
    expect(isLockOn(lock!, 65024n, 2147267n)).toBe(true);
    expect(isLockOn(lock!, 65024n, 2147268n)).toBe(false);
    expect(isLockOn(lock!, 2049n, 2147267n)).toBe(false);
  });
});

describe('parseLinkTarget', () => {
  it.each([
    ['/srv/domains/web1/disk.img', { path: '/srv/domains/web1/disk.img', isDeleted: false }],
    ['/srv/domains/web1/disk.img (deleted)\n', { path: '/srv/domains/web1/disk.img', isDeleted: true }],
    ['socket:[48213]', undefined],
    ['pipe:[1234]', undefined],
    ['anon_inode:[eventfd]', undefined],
    ['', undefined],
  ])('reads %j', (text, expected) => {
    expect(parseLinkTarget(text)).toEqual(expected);
  });
});

describe('isWritableFdInfo', () => {
  it.each([
    ['flags:\t02100002\n', true], // O_RDWR|O_DIRECT-less QEMU image
    ['flags:\t0100001\n', true], // O_WRONLY
    ['pos:\t0\nflags:\t0100000\n', false], // O_RDONLY (a qcow2 backing file)
    ['pos:\t0\n', undefined],
  ])('reads %j', (text, expected) => {
    expect(isWritableFdInfo(text)).toBe(expected);
  });
});

const MAPS = `55ab2040a000-55ab209a1000 r-xp 00000000 fe:00 1840 /usr/bin/qemu-system-x86_64
7fe24be00000-7fe26be00000 rw-p 00000000 00:00 0
7fe249600000-7fe24bcb0000 rw-p 00000000 fe:00 12370067                   /run/xenkit/qemu/qs/vmlinux-pvh
7fe27c200000-7fe27c94b000 r--p 00000000 103:0a 12369985                   /run/xenkit/qemu/qs/initrd (deleted)
7ffd1c3a2000-7ffd1c3c3000 rw-p 00000000 00:00 0                          [stack]
`;

describe('parseFileMappings', () => {
  it('reads the file mappings of /proc/PID/maps with device and inode, and leaves out anonymous ones', () => {
    expect(parseFileMappings(MAPS)).toEqual([
      { start: 0x55ab2040a000, length: 0x597000, major: 0xfe, minor: 0, inode: 1840 },
      { start: 0x7fe249600000, length: 0x26b0000, major: 0xfe, minor: 0, inode: 12370067 },
      { start: 0x7fe27c200000, length: 0x74b000, major: 0x103, minor: 0x0a, inode: 12369985 },
    ]);
  });
});

describe('parseSmapsRss', () => {
  it("gives each mapping's resident KiB by its start address", () => {
    const smaps = `7fe249600000-7fe24bcb0000 rw-p 00000000 fe:00 12370067   /k
Size:              39616 kB
Rss:               33728 kB
Pss:               33728 kB
7fe27c200000-7fe27c94b000 r--p 00000000 fe:00 12369985   /i
Size:               7468 kB
Rss:                   0 kB
`;
    expect(parseSmapsRss(smaps)).toEqual(
      new Map([
        [0x7fe249600000, 33728],
        [0x7fe27c200000, 0],
      ]),
    );
  });
});

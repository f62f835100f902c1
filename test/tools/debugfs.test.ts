import { describe, expect, it } from 'vitest';
import {
  debugfsComplaints,
  debugfsReadArgv,
  parseBirthTime,
  parseDebugfsList,
  rootInodeCommands,
} from '../../src/tools/debugfs.js';

describe('debugfs helpers', () => {
  it('sets the directory type bits with the permission bits', () => {
    expect(rootInodeCommands({ mode: 0o750, uid: 7, gid: 8 })).toBe(
      'sif / mode 040750\nsif / uid 7\nsif / gid 8\n',
    );
    expect(rootInodeCommands({ mode: 0o1777, uid: 0, gid: 0 })).toContain('sif / mode 041777');
  });

  it.each([
    ['debugfs 1.47.0 (5-Feb-2023)\n', []],
    [
      'debugfs 1.47.0 (5-Feb-2023)\nsif: invalid field specifier: uidx\n',
      ['sif: invalid field specifier: uidx'],
    ],
  ])('finds the complaints in %j', (stderr, complaints) => {
    expect(debugfsComplaints(stderr)).toEqual(complaints);
  });
});

describe('read-only debugfs', () => {
  it('never asks for write access', () => {
    expect(debugfsReadArgv('/img', 'ls -p /etc')).toEqual(['debugfs', '-c', '-R', 'ls -p /etc', '/img']);
  });

  it('reads `ls -p` entries with their type and size, leaving out . and ..', () => {
    // debugfs 1.47.0 on a tree made by mkfs.ext4 -d
    const text =
      '/14/040755/0/0/.//\n/12/040755/0/0/..//\n/15/120777/0/0/evil/11/\n' +
      '/16/100600/0/0/ssh_host_ed25519_key/399/\n/17/100644/0/0/ssh_host_ed25519_key.pub/89/\n\n';
    expect(parseDebugfsList(text)).toEqual([
      { name: 'evil', mode: 0o120777, size: 11 },
      { name: 'ssh_host_ed25519_key', mode: 0o100600, size: 399 },
      { name: 'ssh_host_ed25519_key.pub', mode: 0o100644, size: 89 },
    ]);
  });

  it('takes the creation time from stat, else the modification time', () => {
    const stat =
      ' ctime: 0x6b142652:00000000 -- Sat Dec  5 14:57:22 2026\n' +
      ' mtime: 0x6b142600:00000000 -- Sat Dec  5 14:56:00 2026\n' +
      'crtime: 0x6b142652:3b9aca00 -- Sat Dec  5 14:57:22 2026\n';
    expect(parseBirthTime(stat)?.toISOString()).toBe('2026-12-05T14:57:22.250Z');
    expect(parseBirthTime(stat.split('\n').slice(0, 2).join('\n'))?.toISOString()).toBe(
      '2026-12-05T14:56:00.000Z',
    );
    expect(parseBirthTime('/etc/x: File not found by ext2_lookup')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { debugfsComplaints, rootInodeCommands } from '../../src/tools/debugfs.js';

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

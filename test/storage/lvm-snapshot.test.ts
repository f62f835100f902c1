import { describe, expect, it } from 'vitest';
import { MIN_SNAPSHOT_BYTES, snapshotBytes, snapshotName } from '../../src/storage/lvm-snapshot.js';

const MiB = 1024 * 1024;

describe('LVM snapshots of a running guest', () => {
  it.each([
    [32 * MiB, 32 * MiB],
    [64 * MiB, 64 * MiB],
    [256 * MiB, MIN_SNAPSHOT_BYTES],
    [4096 * MiB, 1024 * MiB],
  ])('gives the snapshot of a %i-byte volume %i bytes of copy-on-write room', (origin, room) => {
    expect(snapshotBytes(origin)).toBe(room);
  });

  it('names a snapshot after its origin, in a form no guest volume has', () => {
    expect(snapshotName('web1-disk')).toMatch(/^web1-disk\.xenkit-snap-[0-9a-f]{6}$/);
    expect(snapshotName('web1-disk')).not.toBe(snapshotName('web1-disk'));
  });
});

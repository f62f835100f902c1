/**
 * A running guest's point in time, with fake drivers: a driver that copies disks (QEMU) has the
 * copies read and released and the guest never paused; one that cannot (xl) has the guest paused
 * around the read and unpaused even when the read fails.
 */
import { describe, expect, it } from 'vitest';
import type { HypervisorDriver, RunningDiskCopy } from '../../src/hypervisors/driver.js';
import { copyGuestDisks } from '../../src/images/backup-running.js';
import type { GuestFiles } from '../../src/images/guest-files.js';
import { silentReporter } from '../../src/log/reporter.js';
import type { StepContext } from '../../src/plan/plan.js';
import { makeContext } from '../helpers/storage-fixtures.js';

const guest = {
  name: 'web1',
  disks: [{ path: '/srv/domains/web1/disk.img' }, { path: '/srv/domains/web1/swap.img' }],
} as GuestFiles;

function context(): StepContext {
  return { ...makeContext(), reporter: silentReporter, state: new Map() };
}

/** A driver whose every verb records its call; `extra` adds or replaces verbs. */
function fakeDriver(calls: string[], extra: Partial<HypervisorDriver> = {}): HypervisorDriver {
  const record = (verb: string) => (name: string) => {
    calls.push(`${verb} ${name}`);
    return Promise.resolve();
  };
  return { name: 'xl', pause: record('pause'), unpause: record('unpause'), ...extra } as HypervisorDriver;
}

describe('copyGuestDisks', () => {
  it('reads the copies a QEMU driver makes, never pauses, and releases them', async () => {
    const calls: string[] = [];
    const copy: RunningDiskCopy = {
      method: 'QMP transaction of blockdev-backup sync=full jobs',
      pausedMs: 0,
      heldMs: 3,
      copyMs: 900,
      disks: guest.disks.map((d) => ({ image: d.path, copy: `${d.path}.copy`, size: 1 })),
      release: () => {
        calls.push('release');
        return Promise.resolve();
      },
    };
    const driver = fakeDriver(calls, {
      copyDisks: (name, images) => {
        calls.push(`copy ${name} ${images.join(' ')}`);
        return Promise.resolve(copy);
      },
    });
    const read: string[] = [];
    const pit = await copyGuestDisks(guest, { kind: 'qemu', name: 'web1', driver }, context(), (sourceOf) => {
      read.push(...guest.disks.map((d) => sourceOf(d.path)));
      return Promise.resolve();
    });
    expect(read).toEqual(['/srv/domains/web1/disk.img.copy', '/srv/domains/web1/swap.img.copy']);
    expect(calls).toEqual(['copy web1 /srv/domains/web1/disk.img /srv/domains/web1/swap.img', 'release']);
    expect(pit).toEqual({ method: copy.method, pausedMs: 0, heldMs: 3, copyMs: 900 });
  });

  it('pauses an xl guest for the read and unpauses it after', async () => {
    const calls: string[] = [];
    const driver = fakeDriver(calls);
    const pit = await copyGuestDisks(guest, { kind: 'xl', name: 'web1', driver }, context(), (sourceOf) => {
      calls.push(`read ${sourceOf('/srv/domains/web1/disk.img')}`);
      return new Promise((resolve) => setTimeout(resolve, 30));
    });
    expect(calls).toEqual(['pause web1', 'read /srv/domains/web1/disk.img', 'unpause web1']);
    expect(pit.method).toMatch(/^xl pause/);
    expect(pit.pausedMs).toBeGreaterThanOrEqual(25);
  });

  it('unpauses the xl guest when the read fails', async () => {
    const calls: string[] = [];
    const driver = fakeDriver(calls);
    await expect(
      copyGuestDisks(guest, { kind: 'xl', name: 'web1', driver }, context(), () =>
        Promise.reject(new Error('disk full')),
      ),
    ).rejects.toThrow('disk full');
    expect(calls).toEqual(['pause web1', 'unpause web1']);
  });
});

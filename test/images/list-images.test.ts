import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listImages } from '../../src/images/list-images.js';
import type { Paths } from '../../src/paths.js';
import { makeFakeGuest, makeListedGuests, makeRoot } from '../helpers/fake-guests.js';

let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

describe('listImages', () => {
  it('lists each cfg with memory, network, disks (sizes, format, parent) and state', async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    fs.writeFileSync(path.join(paths.xenDir, 'old.cfg~'), "name = 'backup'\n");
    const guests = await listImages(paths, { running: { xl: false } });
    expect(guests.map((g) => [g.name, g.mode, g.ips, g.memory, g.running])).toEqual([
      ['a1', 'dhcp', [], 256, false],
      ['b2', 'static', ['192.0.2.9'], 256, false],
      ['c3', 'dhcp', [], 256, false],
    ]);
    const [a1, , c3] = guests;
    expect(a1?.disks.map((d) => [d.vdev, d.format, d.virtualSize, d.isBase])).toEqual([
      ['xvda2', 'raw', 64 << 20, true],
      ['xvda1', 'raw', 16 << 20, false],
    ]);
    expect(a1?.disks[0]?.allocatedSize).toBeLessThan(1 << 20);
    expect(a1?.clones).toEqual(['c3']);
    expect(
      c3?.disks.map((d) => [d.format, d.virtualSize, d.parent && path.relative(paths.root, d.parent)]),
    ).toEqual([
      ['qcow2', 64 << 20, 'srv/domains/a1/disk.img'],
      ['qcow2', 16 << 20, 'srv/domains/a1/swap.img'],
    ]);
  });

  it('asks xl once for every guest on a Xen host, not once per guest', async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    const xl = path.join(paths.root, 'xl');
    const calls = path.join(paths.root, 'xl-calls');
    // An xl that logs each call and knows Domain-0 and b2.
    fs.writeFileSync(
      xl,
      `#!/bin/sh\necho "$*" >> ${calls}\nprintf 'Name ID Mem VCPUs State Time(s)\\nDomain-0 0 1024 2 r----- 9.0\\nb2 4 256 1 -b---- 1.0\\n'\n`,
      { mode: 0o755 },
    );
    const guests = await listImages(paths, { running: { xl } });
    expect(guests.map((g) => [g.name, g.running])).toEqual([
      ['a1', false],
      ['b2', 'xl'],
      ['c3', false],
    ]);
    expect(fs.readFileSync(calls, 'utf8')).toBe('list\n');
  });

  it('describes a guest the shared scans answer for (no promise) as one whose record is read', async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    // d4: raw disks held open by a process, so running by its image; e5: no disks at all.
    makeFakeGuest(paths, 'd4');
    fs.writeFileSync(path.join(paths.xenDir, 'e5.cfg'), "name = 'e5'\nmemory = 64\n");
    const held = fs.openSync(path.join(paths.root, 'srv/domains/d4/disk.img'), 'r+');
    try {
      // This process holds d4's image: the scan must not ignore it here.
      const running = { xl: false as const, holders: { ignorePids: [] } };
      const fromScans = await listImages(paths, { running });
      expect(fromScans.map((g) => [g.name, g.running])).toEqual([
        ['a1', false],
        ['b2', false],
        ['c3', false],
        ['d4', 'image'],
        ['e5', false],
      ]);
      // A runtime directory for every guest: each one's registry record is read (none is there).
      for (const g of fromScans) fs.mkdirSync(path.join(paths.stateDir, 'qemu', g.name), { recursive: true });
      expect(await listImages(paths, { running })).toEqual(fromScans);
    } finally {
      fs.closeSync(held);
    }
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main as deleteMain } from '../../../src/cli/bin/xen-delete-image.js';
import { main as listMain } from '../../../src/cli/bin/xen-list-images.js';
import { main as updateMain } from '../../../src/cli/bin/xen-update-image.js';
import type { Paths } from '../../../src/paths.js';
import { captureIo } from '../../helpers/capture-io.js';
import { makeFakeGuest, makeRoot } from '../../helpers/fake-guests.js';

const capture = captureIo;

let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

describe('xen-delete-image', () => {
  it('prints what xen-tools prints, deletes, and leaves the other guest alone', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'foo');
    makeFakeGuest(paths, 'bar');
    const c = capture();
    const code = await deleteMain([`--root=${paths.root}`, '--dir=/srv', '--hostname=foo'], c.io, {
      xl: false,
    });
    expect(code).toBe(0);
    expect(c.out()).toBe(
      [
        `Deleting: ${paths.xenDir}/foo.cfg`,
        `Removing: ${paths.root}/srv/domains/foo`,
        `Kept: ${paths.logDir}/foo.log`,
        '',
      ].join('\n'),
    );
    expect(fs.existsSync(path.join(paths.xenDir, 'bar.cfg'))).toBe(true);
  });

  it('says what it would delete with --dry-run and deletes nothing', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'foo');
    const c = capture();
    expect(await deleteMain([`--root=${paths.root}`, '--dry-run', 'foo'], c.io, { xl: false })).toBe(0);
    expect(c.out()).toContain(`Would delete: ${paths.xenDir}/foo.cfg\n`);
    expect(fs.existsSync(path.join(paths.xenDir, 'foo.cfg'))).toBe(true);
  });

  it.each([
    [['--evms=c0', 'foo'], 2, 'EVMS storage is not available'],
    [['--lvm=nosuchvg', 'foo'], 2, 'volume group "nosuchvg" does not exist'],
    [[], 2, 'no guest named'],
    [['missing'], 1, 'nothing to delete'],
  ])('fails on %j with status %i', async (argv, status, message) => {
    paths = makeRoot();
    const c = capture();
    expect(await deleteMain([`--root=${paths.root}`, ...argv], c.io, { xl: false })).toBe(status);
    expect(c.err()).toContain(message);
  });

  it('reports JSON with --json', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'foo');
    const c = capture();
    expect(await deleteMain([`--root=${paths.root}`, '--json', 'foo'], c.io, { xl: false })).toBe(0);
    const body = JSON.parse(c.out()) as {
      ok: boolean;
      guests: { name: string; removed: { kind: string }[] }[];
    };
    expect(body.ok).toBe(true);
    expect(body.guests[0]?.removed.map((r) => r.kind)).toEqual(['config', 'directory']);
  });
});

describe('xen-delete-image and the disks it leaves', () => {
  function guestWithSharedData(): string {
    paths = makeRoot();
    const cfg = makeFakeGuest(paths, 'foo');
    const data = path.join(paths.root, 'srv/data/shared.img');
    fs.mkdirSync(path.dirname(data), { recursive: true });
    fs.writeFileSync(data, 'data');
    fs.writeFileSync(
      cfg,
      fs.readFileSync(cfg, 'utf8').replace('disk = [\n', `disk = [\n  'file:${data},xvdb,r',\n`),
    );
    return data;
  }

  it.each([[[]], [['--dry-run']]])(
    'warns that it keeps a disk outside DIR/domains/NAME (%j)',
    async (extra) => {
      const data = guestWithSharedData();
      const c = capture();
      expect(await deleteMain([`--root=${paths.root}`, ...extra, 'foo'], c.io, { xl: false })).toBe(0);
      expect(c.out()).toContain(
        `Warning: not deleting ${data}: outside the guest's directory ${paths.root}/srv/domains/foo; xenkit deletes only what it made\n`,
      );
      expect(fs.readFileSync(data, 'utf8')).toBe('data');
    },
  );

  it('lists it under kept with why in --json', async () => {
    const data = guestWithSharedData();
    const c = capture();
    expect(
      await deleteMain([`--root=${paths.root}`, '--json', '--dry-run', 'foo'], c.io, { xl: false }),
    ).toBe(0);
    const body = JSON.parse(c.out()) as { guests: { kept: { path: string; kind: string; why: string }[] }[] };
    expect(body.guests[0]?.kept).toEqual([
      { path: data, kind: 'disk', why: expect.stringContaining('outside the guest') as string },
      { path: `${paths.logDir}/foo.log`, kind: 'log', why: 'the creation log stays, as in xen-tools' },
    ]);
  });
});

describe('xen-list-images', () => {
  it('prints the xen-tools lines for each guest, then disks and state, blank-line separated', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'a1');
    makeFakeGuest(paths, 'b2', { ip: '192.0.2.9' });
    const c = capture();
    expect(await listMain([`--root=${paths.root}`], c.io, { xl: false })).toBe(0);
    const blocks = c.out().split('\n\n');
    expect(blocks).toHaveLength(2);
    expect(blocks[0]?.split('\n').slice(0, 4)).toEqual([
      'Name: a1',
      'Memory: 256 MB',
      'DHCP [MAC: 00:16:3E:00:00:02]',
      `Config: ${paths.xenDir}/a1.cfg`,
    ]);
    expect(blocks[1]).toContain('IP: 192.0.2.9 [MAC: 00:16:3E:00:00:01]\n');
    expect(blocks[1]).toContain(`Disk: xvda2 ${paths.root}/srv/domains/b2/disk.img (raw, 64.0M, `);
    expect(blocks[1]).toContain('State: stopped');
  });
});

describe('xen-update-image', () => {
  it.each([
    [['--evms=c', 'foo'], 2, 'EVMS storage is not available'],
    [['--dir=/srv', 'nope'], 1, "Disk image '"],
  ])('refuses %j', async (argv, status, message) => {
    paths = makeRoot();
    const c = capture();
    expect(await updateMain([`--root=${paths.root}`, ...argv], c.io, { xl: false })).toBe(status);
    expect(c.err()).toContain(message);
  });
});

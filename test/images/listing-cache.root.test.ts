/**
 * The listing cache against real files (root: only root's own 0600 cache file is read): unchanged
 * guests come from it, and an edited cfg, a cfg edited with its mtime put back, a replaced disk and
 * an untrusted, corrupt or foreign cache file are all seen as they are now, by the library and by
 * the commands.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main as xenListImages } from '../../src/cli/bin/xen-list-images.js';
import { xmList } from '../../src/cli/bin/list.js';
import { listImages } from '../../src/images/list-images.js';
import { ListingCache } from '../../src/images/listing-cache.js';
import type { Paths } from '../../src/paths.js';
import { captureIo } from '../helpers/capture-io.js';
import { makeFakeGuest, makeListedGuests, makeRoot } from '../helpers/fake-guests.js';

let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

const running = { xl: false as const };
/** A cache that keeps files changed up to now (a listing's own cache leaves out the last second's). */
const openCache = (file: string, version = 'v1'): ListingCache =>
  ListingCache.open(file, version, Date.now() + 2000);

/** Rewrites `file` in place (same inode), as an editor that does not rename would. */
function editInPlace(file: string, from: string, to: string): void {
  const text = fs.readFileSync(file, 'utf8');
  expect(text).toContain(from);
  fs.writeFileSync(file, text.replace(from, to));
}

/** Replaces the disk `disk` by a qcow2 image of `size` (made aside, renamed over it): a new inode. */
function replaceWithQcow2(disk: string, size: string): void {
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', `${disk}.new`, size]);
  fs.renameSync(`${disk}.new`, disk);
}

describe('listImages with a listing cache', () => {
  it('answers unchanged guests from the cache, with the same listing', async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    const file = path.join(paths.cacheDir, 'listing-test.json');
    const fresh = await listImages(paths, { running });
    const first = openCache(file);
    expect(await listImages(paths, { running, cache: first })).toEqual(fresh);
    expect(first.hits).toBe(0);
    first.save();
    const stat = fs.statSync(file);
    expect([stat.uid, stat.mode & 0o777]).toEqual([0, 0o600]);
    const second = openCache(file);
    expect(await listImages(paths, { running, cache: second })).toEqual(fresh);
    // Three cfgs and the format of their six disks (qemu-img still tells c3's qcow2 sizes).
    expect([second.hits, second.misses]).toEqual([3 + 6, 0]);
  });

  it('sees a cfg edited in place, one edited with its mtime put back, and a replaced disk', async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    const b2 = path.join(paths.xenDir, 'b2.cfg');
    // A whole second an hour ago: a time utimes can put back exactly.
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    fs.utimesSync(b2, hourAgo, hourAgo);
    const file = path.join(paths.cacheDir, 'listing-test.json');
    const cache = openCache(file);
    await listImages(paths, { running, cache });
    cache.save();

    const a1 = path.join(paths.xenDir, 'a1.cfg');
    editInPlace(a1, "memory = '256'", "memory = '512'");
    editInPlace(b2, '192.0.2.9', '192.0.2.8');
    fs.utimesSync(b2, hourAgo, hourAgo);
    expect(fs.statSync(b2, { bigint: true }).mtimeNs).toBe(BigInt(hourAgo) * 1_000_000_000n);
    // b2's disk replaced by a qcow2 image of the same name.
    replaceWithQcow2(path.join(paths.root, 'srv/domains/b2/disk.img'), '32M');

    const next = openCache(file);
    const guests = await listImages(paths, { running, cache: next });
    expect(guests).toEqual(await listImages(paths, { running }));
    expect(guests.map((g) => [g.name, g.memory, g.ips])).toEqual([
      ['a1', 512, []],
      ['b2', 256, ['192.0.2.8']],
      ['c3', 256, []],
    ]);
    expect(guests[1]?.disks.map((d) => [d.format, d.virtualSize])).toEqual([
      ['qcow2', 32 << 20],
      ['raw', 16 << 20],
    ]);
    // c3's cfg and its two disks still came from the cache; the two edited cfgs were read again,
    // and with them their disks' formats (kept in each cfg's entry).
    expect([next.hits, next.misses]).toEqual([1 + 2, 2 + 4]);
  });

  it("sees a disk replaced under an unchanged cfg (the disk's own key, kept in its cfg's entry)", async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    const file = path.join(paths.cacheDir, 'listing-test.json');
    const cache = openCache(file);
    await listImages(paths, { running, cache });
    cache.save();
    const disk = path.join(paths.root, 'srv/domains/a1/disk.img');
    replaceWithQcow2(disk, '48M');

    const next = openCache(file);
    const guests = await listImages(paths, { running, cache: next });
    expect(guests).toEqual(await listImages(paths, { running }));
    expect(guests[0]?.disks[0]).toMatchObject({ path: disk, format: 'qcow2', virtualSize: 48 << 20 });
    // Three cfgs and five disks from the cache; the replaced disk read again.
    expect([next.hits, next.misses]).toEqual([3 + 5, 1]);
    next.save();
    const after = openCache(file);
    await listImages(paths, { running, cache: after });
    expect([after.hits, after.misses]).toEqual([3 + 6, 0]);
  });

  it.each([
    ['corrupt', (file: string) => fs.writeFileSync(file, '{"magic": "xenkit-listing-cache", "entr')],
    ['readable by others', (file: string) => fs.chmodSync(file, 0o644)],
    ['owned by another user', (file: string) => fs.chownSync(file, 65534, 65534)],
    [
      'a link to the real one',
      (file: string) => {
        fs.renameSync(file, `${file}.real`);
        fs.symlinkSync(`${file}.real`, file);
      },
    ],
  ])('ignores a cache file that is %s, and lists the same', async (_what, spoil) => {
    paths = makeRoot();
    makeListedGuests(paths);
    const file = path.join(paths.cacheDir, 'listing-test.json');
    const cache = openCache(file);
    const fresh = await listImages(paths, { running, cache });
    cache.save();
    spoil(file);
    const spoiled = openCache(file);
    expect(await listImages(paths, { running, cache: spoiled })).toEqual(fresh);
    expect(spoiled.hits).toBe(0);
    // Saved again: the next listing has a cache it can use.
    spoiled.save();
    const next = openCache(file);
    await listImages(paths, { running, cache: next });
    expect(next.hits).toBeGreaterThan(0);
  });

  it("ignores another version's cache, and keeps nothing changed in the last second", async () => {
    paths = makeRoot();
    makeListedGuests(paths);
    const file = path.join(paths.cacheDir, 'listing-test.json');
    const cache = openCache(file, 'v1');
    await listImages(paths, { running, cache });
    cache.save();
    const other = openCache(file, 'v2');
    await listImages(paths, { running, cache: other });
    expect(other.hits).toBe(0);
    // Opened now: every file was made within the second, so none is kept for the next listing.
    const young = path.join(paths.cacheDir, 'listing-young.json');
    const now = ListingCache.open(young, 'v1');
    await listImages(paths, { running, cache: now });
    now.save();
    const after = ListingCache.open(young, 'v1');
    await listImages(paths, { running, cache: after });
    expect([after.hits, after.misses]).toEqual([0, 3 + 6]);
  });
});

describe('the listing commands with their cache', () => {
  it('write it under the cache directory and show a hand edit at the next listing', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'a1');
    makeFakeGuest(paths, 'b2', { ip: '192.0.2.9' });
    fs.writeFileSync(path.join(paths.xenDir, 'd4.cfg'), "name = 'd4'\nmemory = 'lots\n");
    // Older than the second a listing leaves out.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const run = async (command: 'xen-list-images' | 'xm', env: NodeJS.ProcessEnv = {}): Promise<string> => {
      const { io, out, err } = captureIo();
      const deps = { env: { ...env, XENKIT_ROOT: paths.root } };
      const code =
        command === 'xm'
          ? await xmList(['--all', '--json'], { ...io, stdin: process.stdin, isTTY: false }, deps)
          : await xenListImages(['--json'], io, { ...deps, xl: false });
      expect([code, err()]).toEqual([0, '']);
      // Domain-0's CPU seconds are read live.
      return out().replace(/("cpuTimeSec": )[\d.]+/, '$1T');
    };
    for (const command of ['xen-list-images', 'xm'] as const) {
      const uncached = await run(command, { XENKIT_LISTING_CACHE: '0' });
      expect(fs.existsSync(path.join(paths.cacheDir, `listing-${command}.json`))).toBe(false);
      expect(await run(command)).toBe(uncached);
      const file = path.join(paths.cacheDir, `listing-${command}.json`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const entries = (JSON.parse(fs.readFileSync(file, 'utf8')) as { entries: unknown[] }).entries;
      // One entry per cfg: xen-list-images keeps its disks' formats inside it.
      expect(entries.length).toBe(3);
      expect(await run(command)).toBe(uncached);
    }
    editInPlace(path.join(paths.xenDir, 'a1.cfg'), "memory = '256'", "memory = '384'");
    for (const command of ['xen-list-images', 'xm'] as const) {
      const listed = await run(command);
      expect(listed).toBe(await run(command, { XENKIT_LISTING_CACHE: '0' }));
      expect(listed).toMatch(/"memory(MiB)?": 384/);
    }
  });
});

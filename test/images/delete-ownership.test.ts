import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  guestDirOf,
  refuseSharedImages,
  whyDiskKept,
  type GuestDir,
} from '../../src/images/delete-ownership.js';
import { makePaths, type Paths } from '../../src/paths.js';

let paths: Paths;
let root: string;
let outside: string;
beforeEach(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-ownership-')));
  outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-ownership-outside-')));
  paths = makePaths(root);
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

/** Makes `rel` (a directory when it ends in /, else a file) under the root; returns its path. */
function make(rel: string): string {
  const full = path.join(root, rel);
  if (rel.endsWith('/')) fs.mkdirSync(full, { recursive: true });
  else {
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, 'x');
  }
  return full.replace(/\/$/, '');
}

describe("the guest's own directory", () => {
  it('is DIR/domains/NAME when --dir names it', () => {
    const dir = make('srv/domains/g1/');
    expect(guestDirOf(paths, 'g1', [], '/srv')).toEqual({ path: dir, real: dir });
  });

  it("is derived from a disk in .../domains/NAME without --dir, or when --dir's one does not exist", () => {
    const disk = make('data/domains/g1/disk.img');
    const dir = path.dirname(disk);
    expect(guestDirOf(paths, 'g1', [disk], undefined)).toEqual({ path: dir, real: dir });
    expect(guestDirOf(paths, 'g1', [disk], '/srv')).toEqual({ path: dir, real: dir });
  });

  it.each([
    ['a directory not called domains', 'var/lib/images/g1/disk.img'],
    ["another guest's directory", 'srv/domains/g2/disk.img'],
    ['a flat image directory', 'var/lib/images/g1.img'],
  ])('is not derived from a disk in %s', (_what, rel) => {
    const disk = make(rel);
    expect(guestDirOf(paths, 'g1', [disk], undefined)).toEqual({
      path: undefined,
      real: undefined,
      why: 'no DIR/domains/NAME directory (give --dir)',
    });
  });

  it.each([
    ['a symlink', (dir: string) => fs.symlinkSync(make('srv/domains/g2/'), dir), 'is a symlink'],
    ['a file', (dir: string) => fs.writeFileSync(dir, ''), 'is not a directory'],
    ['missing', () => undefined, 'does not exist'],
  ])('is none when DIR/domains/NAME is %s', (_what, place, why) => {
    const dir = path.join(root, 'srv/domains/g1');
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    place(dir);
    expect(guestDirOf(paths, 'g1', [], '/srv')).toEqual({ path: dir, real: undefined, why: `${dir} ${why}` });
  });

  it('is none when --dir climbs out of the root', () => {
    fs.mkdirSync(path.join(outside, 'domains/g1'), { recursive: true });
    const result = guestDirOf(paths, 'g1', [], `/../../${path.relative('/', outside)}`);
    expect(result.real).toBeUndefined();
    expect(result).toMatchObject({ why: expect.stringContaining(`outside the root ${root}`) as string });
  });
});

describe('which disks stay', () => {
  const MINE = 'xenkit deletes only what it made';
  let guestDir: GuestDir;
  beforeEach(() => {
    const dir = make('srv/domains/g1/');
    guestDir = { path: dir, real: dir };
  });

  it.each([
    ['a disk in the directory', () => make('srv/domains/g1/disk.img')],
    ['a dangling symlink in the directory', () => linkTo('srv/domains/g1/disk.img', '/nowhere')],
    ['a disk that does not exist', () => path.join(root, 'srv/other/disk.img')],
  ])('lets %s go', (_what, place) => {
    const file = place();
    expect(
      whyDiskKept({ path: file, exists: fs.existsSync(file) || isLink(file) }, guestDir),
    ).toBeUndefined();
  });

  it.each([
    ['a disk elsewhere', () => make('srv/data/shared.img'), "outside the guest's directory"],
    [
      'a link in the directory that resolves out of it',
      () => linkTo('srv/domains/g1/sub.img', make('srv/domains/g2/disk.img')),
      'resolves to ',
    ],
    ['a dangling symlink elsewhere', () => linkTo('srv/data/gone.img', '/nowhere'), 'cannot be resolved'],
    ['a device', () => '/dev/null', "a device that is not one of the guest's volumes"],
  ])('keeps %s and says why', (_what, place, why) => {
    const reason = whyDiskKept({ path: place(), exists: true }, guestDir);
    expect(reason).toContain(why);
    expect(reason).toContain(MINE);
  });

  it('keeps every disk when there is no guest directory, naming why there is none', () => {
    const disk = make('srv/domains/g1/disk.img');
    expect(
      whyDiskKept({ path: disk, exists: true }, { path: undefined, real: undefined, why: 'none here' }),
    ).toBe(`not in a guest directory xenkit made (none here); ${MINE}`);
  });
});

describe("another guest's image in the directory", () => {
  it('is refused, naming the image and its guest', () => {
    const dir = make('srv/domains/g1/');
    const shared = make('srv/domains/g1/data.img');
    expect(() => refuseSharedImages('g1', { path: dir, real: dir }, new Map([[shared, 'g2']]))).toThrow(
      expect.objectContaining({
        code: 'E_SHARED_IMAGE',
        message: expect.stringContaining('"g2" uses too') as string,
      }),
    );
  });

  it('is no matter when the image lies outside the directory, or there is no directory', () => {
    const dir = make('srv/domains/g1/');
    const elsewhere = new Map([[make('srv/domains/g2/disk.img'), 'g2']]);
    expect(() => refuseSharedImages('g1', { path: dir, real: dir }, elsewhere)).not.toThrow();
    const inside = new Map([[make('srv/domains/g1/data.img'), 'g2']]);
    expect(() =>
      refuseSharedImages('g1', { path: dir, real: undefined, why: 'a symlink' }, inside),
    ).not.toThrow();
  });
});

/** A symlink at `rel` under the root pointing to `target`; returns its path. */
function linkTo(rel: string, target: string): string {
  const link = path.join(root, rel);
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(target, link);
  return link;
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

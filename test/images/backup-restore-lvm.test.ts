/**
 * A snapshot of a guest on LVM volumes is restored to image files: without --dir it is refused
 * (usage error, nothing written), with --dir the image is written there bit for bit and the cfg
 * says file: where it said phy:. With --lvm VG onto new volumes: what is refused before anything
 * is made (fake LVM tools; the writes run in backup-restore-lvm.root.test.ts and the LVM VM test).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest } from '../../src/backup/manifest.js';
import { openOrCreateRepository, type Repository } from '../../src/backup/repository.js';
import { storeImage } from '../../src/backup/store-image.js';
import { buildRestorePlan } from '../../src/images/backup-restore.js';
import { sectionForDisk } from '../../src/images/backup-restore-lvm.js';
import { main } from '../../src/cli/bin/xenkit.js';
import { lvcreateArgv } from '../../src/tools/lvm.js';
import { captureIo } from '../helpers/capture-io.js';
import { fakeLvmLog, makeFakeLvmWithCreate } from '../helpers/fake-lvm.js';
import { withPathFirst } from '../helpers/storage-fixtures.js';
import { makePaths, type Paths } from '../../src/paths.js';
import { executePlan } from '../../src/plan/executor.js';
import { testManifest } from '../helpers/backup-fixtures.js';
import { makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

const CHUNK = 64 * 1024;
const CFG = "name = 'web1'\nmemory = 128\ndisk = [ 'phy:/dev/vg0/web1-disk,xvda2,w' ]\n";

let dir: string;
let repo: Repository;
let paths: Paths;
let image: Buffer;

beforeEach(async () => {
  dir = makeTempDir('restore-lvm');
  repo = await openOrCreateRepository(path.join(dir, 'repo'), CHUNK);
  paths = makePaths(path.join(dir, 'root'));
  fs.mkdirSync(paths.xenDir, { recursive: true });
  // The volume's bytes as a backup read them: data, a zero chunk, data.
  image = Buffer.concat([randomBytes(CHUNK), Buffer.alloc(CHUNK), randomBytes(CHUNK / 2)]);
  const file = path.join(dir, 'volume');
  fs.writeFileSync(file, image);
  const stored = await storeImage(repo, file, {
    dirs: new Set(),
    cache: {},
    seen: new Set(),
    made: [],
    deviceSize: image.length,
  });
  await writeManifest(
    repo,
    testManifest({
      id: 'web1-20261206T010000Z-abcd',
      guest: 'web1',
      file: '/dev/vg0/web1-disk',
      stored,
      time: '2026-12-06T01:00:00.000Z',
      chunkSize: CHUNK,
      cfgText: CFG,
    }),
  );
});
afterEach(() => removeDir(dir));

const restore = (dirFlag: string | undefined, more: { lvm?: string; as?: string; force?: boolean } = {}) =>
  buildRestorePlan(paths, {
    repoDir: repo.dir,
    ref: 'web1',
    as: more.as,
    dir: dirFlag,
    lvm: more.lvm,
    force: more.force ?? false,
    running: { xl: false },
  });

describe('restore --lvm VG: the checks before anything is made', () => {
  let bin: string;
  afterEach(() => removeDir(bin));

  it('plans lvcreate, blkdiscard --zeroout and the data writes of NAME-SECTION volumes, and makes nothing', async () => {
    bin = makeFakeLvmWithCreate(['vg1 other']);
    const { plan, outcome } = await withPathFirst(bin, () => restore(undefined, { lvm: 'vg1', as: 'web2' }));
    const actions = plan.steps.flatMap((s) => s.actions);
    // The thick volume of the snapshot's size (tools/lvm.test.ts checks that argv itself).
    expect(actions).toContainEqual({
      kind: 'run',
      argv: lvcreateArgv({ vg: 'vg1', name: 'web2-disk', sizeBytes: image.length }),
    });
    expect(actions).toContainEqual({ kind: 'run', argv: ['blkdiscard', '--zeroout', '/dev/vg1/web2-disk'] });
    // Nothing moved into place: the volume is written where it stays.
    expect(actions.filter((a) => a.kind === 'run' && a.argv[0] === 'mv')).toEqual([]);
    expect(outcome.name).toBe('web2');
    expect(fakeLvmLog(bin)).toEqual([]);
  });

  it.each([
    [{ lvm: 'vg0' }, 'E_LVM_EXISTS', 'logical volume vg0/web1-disk exists already', '--as NEW'],
    [
      { lvm: 'vg0', force: true },
      'E_LVM_EXISTS',
      'logical volume vg0/web1-disk exists already',
      'delete-image --lvm=vg0 web1',
    ],
    [{ lvm: 'vg9' }, 'E_LVM_NO_VG', 'volume group "vg9" does not exist', 'vgs'],
    [
      { lvm: 'small', as: 'web2' },
      'E_LVM_NO_SPACE',
      'volume group "small" has',
      'restore to image files with --dir',
    ],
  ])('refuses %j (%s) with a hint, and makes nothing', async (more, code, message, hint) => {
    bin = makeFakeLvmWithCreate(['vg0 web1-disk', 'vg0 web1-swap'], { groups: ['vg0', 'small'] });
    if (more.lvm === 'small') {
      // A group with 64 KiB free: the volume needs a whole 4 MiB extent.
      removeDir(bin);
      bin = makeFakeLvmWithCreate([], { groups: ['small'], freeBytes: 64 * 1024 });
    }
    await expect(withPathFirst(bin, () => restore(undefined, more))).rejects.toMatchObject({
      code,
      kind: 'usage',
      message: expect.stringContaining(message),
      hint: expect.stringContaining(hint),
    });
    expect(fakeLvmLog(bin)).toEqual([]);
    expect(fs.readdirSync(paths.xenDir)).toEqual([]);
  });

  it('refuses --dir with --lvm', async () => {
    bin = makeFakeLvmWithCreate(['vg1 other']);
    await expect(restore('/srv/xen', { lvm: 'vg1' })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: 'options --dir and --lvm exclude each other',
    });
  });

  it('exits 2 from the command line on an existing volume, naming it', async () => {
    bin = makeFakeLvmWithCreate(['vg0 web1-disk']);
    // --repo is read under --root.
    fs.symlinkSync(repo.dir, path.join(paths.root, 'repo'));
    const c = captureIo();
    const code = await withPathFirst(bin, () =>
      main(['backup', 'restore', 'web1', '--lvm=vg0', '--repo=/repo', `--root=${paths.root}`], {
        ...c.io,
        stdin: process.stdin,
        isTTY: false,
      }),
    );
    expect(code).toBe(2);
    expect(c.err()).toContain('logical volume vg0/web1-disk exists already');
    expect(c.err()).toContain('hint: restore under another name with --as NEW');
    expect(fakeLvmLog(bin)).toEqual([]);
  });

  it.each([
    ['/dev/vg0/web1-disk', 'disk'],
    ['/dev/vg0/web1-swap2', 'swap2'],
    ['/dev/vg0/data', 'data'],
    ['/srv/xen/domains/web1/disk.img', 'disk'],
    ['/srv/xen/domains/web1/home.img', 'home'],
    ['/srv/xen/domains/web1/disk.qcow2', 'disk'],
  ])('names the volume of %s after section %s', (target, section) => {
    expect(sectionForDisk(target, 'web1')).toBe(section);
  });
});

describe('restore of a guest backed up from LVM volumes', () => {
  it('refuses without --dir: restore never writes to a block device', async () => {
    await expect(restore(undefined)).rejects.toMatchObject({
      code: 'E_RESTORE_DIR',
      kind: 'usage',
      message: expect.stringContaining('/dev/vg0/web1-disk is a block device'),
    });
    expect(fs.readdirSync(paths.xenDir)).toEqual([]);
  });

  it('writes the volume as DIR/domains/NAME/disk.img, its bytes as they were, and a cfg with file:', async () => {
    const { plan, outcome } = await restore('/srv/xen');
    await executePlan(plan);
    const restored = path.join(paths.root, 'srv/xen/domains/web1/disk.img');
    expect(outcome.images.map((i) => i.path)).toEqual([restored]);
    expect(fs.readFileSync(restored).equals(image)).toBe(true);
    expect(fs.readFileSync(path.join(paths.xenDir, 'web1.cfg'), 'utf8')).toContain(
      "disk = [ 'file:/srv/xen/domains/web1/disk.img,xvda2,w' ]",
    );
  });
});

/**
 * restore --lvm VG writing for real, against fake LVM tools whose volumes are regular files under
 * /dev/VG (a VG name no real group has; the real LVM runs in test/vm/lvm.vm.test.ts): the volumes
 * are made, zeroed and given the snapshot's bytes (what the extents held before does not show
 * through the holes), the cfg says phy:; a failure or Ctrl-C removes every volume the run made.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest } from '../../src/backup/manifest.js';
import { openOrCreateRepository, type Repository } from '../../src/backup/repository.js';
import { storeImage } from '../../src/backup/store-image.js';
import { buildRestorePlan } from '../../src/images/backup-restore.js';
import { silentReporter } from '../../src/log/reporter.js';
import { makePaths, type Paths } from '../../src/paths.js';
import { executePlan } from '../../src/plan/executor.js';
import { testManifest } from '../helpers/backup-fixtures.js';
import { fakeLvmLog, fakeLvmVolumes, makeFakeLvmWithCreate } from '../helpers/fake-lvm.js';
import { makeTempDir, removeDir, withPathFirst } from '../helpers/storage-fixtures.js';

const isRoot = process.getuid?.() === 0;
const CHUNK = 64 * 1024;
const CFG =
  "name = 'web1'\nmemory = 128\ndisk = [ 'phy:/dev/vg0/web1-disk,xvda2,w', 'phy:/dev/vg0/web1-swap2,xvda1,w' ]\n";

let dir: string;
let repo: Repository;
let paths: Paths;
let bin: string;
let vg: string;
const images: Record<string, Buffer> = {};

async function store(name: string, bytes: Buffer) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return storeImage(repo, file, {
    dirs: new Set(),
    cache: {},
    seen: new Set(),
    made: [],
    deviceSize: bytes.length,
  });
}

beforeEach(async () => {
  dir = makeTempDir('restore-lvm-root');
  vg = `xkt${randomBytes(4).toString('hex')}`;
  repo = await openOrCreateRepository(path.join(dir, 'repo'), CHUNK);
  paths = makePaths(path.join(dir, 'root'));
  fs.mkdirSync(paths.xenDir, { recursive: true });
  // Data, an all-zero chunk (a hole: never written), data; and a small second disk.
  images.disk = Buffer.concat([randomBytes(CHUNK), Buffer.alloc(CHUNK), randomBytes(CHUNK / 2)]);
  images.swap2 = Buffer.concat([randomBytes(CHUNK / 2), Buffer.alloc(CHUNK / 2)]);
  const disk = await store('disk', images.disk);
  const swap2 = await store('swap2', images.swap2);
  const base = testManifest({
    id: 'web1-20261206T010000Z-abcd',
    guest: 'web1',
    file: '/dev/vg0/web1-disk',
    stored: disk,
    time: '2026-12-06T01:00:00.000Z',
    chunkSize: CHUNK,
    cfgText: CFG,
  });
  const second = { ...base.disks[0]!, target: '/dev/vg0/web1-swap2', vdev: 'xvda1', size: swap2.size };
  await writeManifest(repo, {
    ...base,
    disks: [...base.disks, { ...second, digest: swap2.digest, chunks: swap2.chunks }],
  });
  bin = makeFakeLvmWithCreate(['vg0 web1-disk', 'vg0 web1-swap2'], { groups: ['vg0', vg], devices: true });
});
afterEach(() => {
  removeDir(dir);
  removeDir(bin);
  fs.rmSync(`/dev/${vg}`, { recursive: true, force: true });
});

const plan = (as: string) =>
  withPathFirst(bin, () =>
    buildRestorePlan(paths, {
      repoDir: repo.dir,
      ref: 'web1',
      as: undefined,
      dir: undefined,
      lvm: vg,
      force: false,
      running: { xl: false },
    }).then((p) => ({ ...p, as })),
  );

describe.skipIf(!isRoot)('restore --lvm VG', () => {
  it('makes NAME-SECTION volumes, zeroed, with the snapshot bytes, and a cfg with phy:', async () => {
    const { plan: p, outcome } = await plan('web1');
    await withPathFirst(bin, () => executePlan(p));
    expect(fs.readFileSync(`/dev/${vg}/web1-disk`).equals(images.disk!)).toBe(true);
    // The fake volumes were made full of old data: the holes read as zeros all the same.
    expect(fs.readFileSync(`/dev/${vg}/web1-swap2`).equals(images.swap2!)).toBe(true);
    expect(outcome.images.map((i) => [i.path, i.writtenBytes])).toEqual([
      [`/dev/${vg}/web1-disk`, CHUNK + CHUNK / 2],
      // Holes are kept in 64 KiB blocks: half data, half zeros is one block written.
      [`/dev/${vg}/web1-swap2`, CHUNK],
    ]);
    expect(
      fakeLvmLog(bin).map((l) => l.split(' ').slice(0, 2).join(' ') + ' ' + l.split(' ').at(-1)),
    ).toEqual([
      `lvcreate --yes ${vg}`,
      `blkdiscard --zeroout /dev/${vg}/web1-disk`,
      `lvcreate --yes ${vg}`,
      `blkdiscard --zeroout /dev/${vg}/web1-swap2`,
    ]);
    expect(fs.readFileSync(path.join(paths.xenDir, 'web1.cfg'), 'utf8')).toContain(
      `disk = [ 'phy:/dev/${vg}/web1-disk,xvda2,w', 'phy:/dev/${vg}/web1-swap2,xvda1,w' ]`,
    );
    expect(fakeLvmVolumes(bin)).toEqual([
      'vg0 web1-disk',
      'vg0 web1-swap2',
      `${vg} web1-disk`,
      `${vg} web1-swap2`,
    ]);
  });

  it('removes the volume it made when making the next one fails, and writes no cfg', async () => {
    fs.writeFileSync(path.join(bin, 'fail-lvcreate'), 'web1-swap2\n');
    const { plan: p } = await plan('web1');
    await expect(withPathFirst(bin, () => executePlan(p))).rejects.toMatchObject({ code: 'E_EXEC' });
    expect(fakeLvmLog(bin).filter((l) => l.startsWith('lvremove'))).toEqual([
      `lvremove --yes --force ${vg}/web1-disk`,
    ]);
    expect(fakeLvmVolumes(bin)).toEqual(['vg0 web1-disk', 'vg0 web1-swap2']);
    expect(fs.readdirSync(`/dev/${vg}`)).toEqual([]);
    expect(fs.readdirSync(paths.xenDir)).toEqual([]);
  });

  it('removes every volume it made on Ctrl-C while it writes, and only those', async () => {
    const { plan: p } = await plan('web1');
    const controller = new AbortController();
    const reporter = {
      ...silentReporter,
      info: (message: string) => {
        if (message.includes('web1-swap2')) controller.abort(new Error('SIGINT'));
      },
    };
    await expect(
      withPathFirst(bin, () => executePlan(p, { signal: controller.signal, reporter })),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^E_/) });
    expect(fakeLvmLog(bin).filter((l) => l.startsWith('lvremove'))).toEqual([
      `lvremove --yes --force ${vg}/web1-swap2`,
      `lvremove --yes --force ${vg}/web1-disk`,
    ]);
    expect(fakeLvmVolumes(bin)).toEqual(['vg0 web1-disk', 'vg0 web1-swap2']);
    expect(fs.readdirSync(paths.xenDir)).toEqual([]);
  });
});

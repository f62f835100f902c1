/**
 * A snapshot of a guest on LVM volumes is restored to image files: without --dir it is refused
 * (usage error, nothing written), with --dir the image is written there bit for bit and the cfg
 * says file: where it said phy:.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeManifest } from '../../src/backup/manifest.js';
import { openOrCreateRepository, type Repository } from '../../src/backup/repository.js';
import { storeImage } from '../../src/backup/store-image.js';
import { buildRestorePlan } from '../../src/images/backup-restore.js';
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

const restore = (dirFlag: string | undefined) =>
  buildRestorePlan(paths, {
    repoDir: repo.dir,
    ref: 'web1',
    as: undefined,
    dir: dirFlag,
    force: false,
    running: { xl: false },
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

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  listMountsUnder,
  listProcessesInTree,
  ownStartTicks,
  parseMountInfo,
  releaseTarget,
} from '../../src/install/target-guard.js';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '90 22 0:5 / /srv/stage/proc rw,nosuid shared:50 - proc proc rw',
  '91 90 0:40 / /srv/stage/proc/sys/fs/binfmt_misc rw shared:51 - binfmt_misc binfmt_misc rw',
  '92 22 0:6 / /srv/stage/sys rw shared:52 - sysfs sysfs rw',
  '93 22 0:41 / /srv/stage\\040two/dev rw shared:53 - devtmpfs udev rw',
  '94 22 0:42 / /srv/stage2/proc rw shared:54 - proc proc rw',
  '95 22 0:43 / /srv/stage rw shared:55 - tmpfs tmpfs rw',
].join('\n');

describe('parseMountInfo', () => {
  it('reads mount points with escapes decoded and the filesystem type after the separator', () => {
    const entries = parseMountInfo(MOUNTINFO);
    expect(entries).toContainEqual({ mountPoint: '/srv/stage two/dev', fsType: 'devtmpfs' });
    expect(entries[0]).toEqual({ mountPoint: '/', fsType: 'ext4' });
    expect(entries).toHaveLength(7);
  });

  it('skips lines without the separator', () => {
    expect(parseMountInfo('garbage\n\n')).toEqual([]);
  });
});

describe('listMountsUnder', () => {
  it('lists mounts strictly below the directory, children before their parents', async () => {
    const mounts = await listMountsUnder('/srv/stage', MOUNTINFO);
    expect(mounts.map((m) => m.mountPoint)).toEqual([
      '/srv/stage/sys',
      '/srv/stage/proc/sys/fs/binfmt_misc',
      '/srv/stage/proc',
    ]);
  });
});

describe('releasing a directory nothing uses', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-guard-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds no process and no mount and changes nothing', async () => {
    expect(await listProcessesInTree(dir)).toEqual([]);
    expect(await releaseTarget(dir)).toEqual({ killed: [], unmounted: [] });
  });
});

describe('an installer helper working in the directory without a chroot', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-guard-helper-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is found when it started after us and is killed by releaseTarget', async () => {
    const child = spawn('sleep', ['300'], { cwd: dir, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise((resolve) => child.once('spawn', resolve));
    expect(await listProcessesInTree(dir)).toEqual([]);
    expect((await listProcessesInTree(dir, await ownStartTicks())).map((p) => p.pid)).toEqual([child.pid]);
    const report = await releaseTarget(dir);
    expect(report.killed).toEqual([{ pid: child.pid, command: 'sleep' }]);
    expect(await exited).toBeDefined();
  });
});

/**
 * The guest kernel out of a filesystem debugfs cannot read (btrfs, with the real mkfs.btrfs and
 * mount): the guest's filesystem is mounted read-only, nosuid and nodev, so nothing of the guest
 * runs with the host's privileges while it is mounted.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractGuestKernel } from '../../../src/hypervisors/qemu/guest-kernel.js';
import type { DiskConfig } from '../../../src/model/domain-config.js';
import { runCommand } from '../../../src/tools/exec.js';
import { withPathFirst, writeFakeTool } from '../../helpers/storage-fixtures.js';

const isRoot = process.getuid?.() === 0;
const VERSION = '6.1.0-98-amd64';

describe.skipIf(!isRoot)('the guest kernel out of a btrfs image', () => {
  let work = '';
  let image = '';

  beforeAll(async () => {
    work = mkdtempSync('/var/tmp/xenkit-guest-kernel-mount-');
    const tree = path.join(work, 'tree');
    mkdirSync(path.join(tree, 'boot'), { recursive: true });
    writeFileSync(path.join(tree, 'boot', `vmlinuz-${VERSION}`), Buffer.alloc(200_000, 0x4b));
    image = path.join(work, 'disk.img');
    writeFileSync(image, '');
    await runCommand(['truncate', '-s', '256M', image]);
    await runCommand(['mkfs.btrfs', '-q', '--rootdir', tree, image]);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('mounts it read-only, nosuid and nodev', async () => {
    const bin = path.join(work, 'bin');
    const log = path.join(work, 'mount.log');
    mkdirSync(bin);
    writeFakeTool(bin, 'mount', `echo "$*" >> ${log}\nexec /usr/bin/mount "$@"`);
    const disk: DiskConfig = {
      target: image,
      format: 'raw',
      vdev: 'xvda2',
      access: 'rw',
      isCdrom: false,
      raw: `file:${image},xvda2,w`,
    };
    const found = await withPathFirst(bin, () => extractGuestKernel(disk, path.join(work, 'cache'), 'b1'));
    expect(found.version).toBe(VERSION);
    const mounts = readFileSync(log, 'utf8').trim().split('\n');
    expect(mounts).toHaveLength(1);
    expect(mounts[0]).toMatch(/-o ro,nosuid,nodev,/);
  });
});

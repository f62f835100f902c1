import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/tools/exec.js';
import { makeFs } from '../../src/tools/mkfs.js';
import { buildSampleTree } from '../helpers/sample-tree.js';
import { makeTempDir, removeDir } from '../helpers/storage-fixtures.js';
import { compareTrees, snapshotTree } from '../helpers/tree-compare.js';

let tmp: string;
let tree: string;
beforeAll(async () => {
  tmp = makeTempDir('tree-compare');
  tree = path.join(tmp, 'tree');
  await mkdir(tree);
  await buildSampleTree(tree);
});
afterAll(() => removeDir(tmp));

describe('the tree-compare helper', () => {
  it('sees owners, special modes, devices, links, xattrs, holes and hard links of the sample tree', async () => {
    const snap = await snapshotTree(tree);
    expect(snap.entries.get('odd-owner')).toMatchObject({ uid: 123456, gid: 654321 });
    expect(snap.entries.get('odd-owner')?.xattrs).toHaveProperty('system.posix_acl_access');
    expect(snap.entries.get('usr/bin/suid-tool')).toMatchObject({ mode: 0o4755 });
    expect(snap.entries.get('usr/bin/suid-tool')?.xattrs).toHaveProperty('security.capability');
    expect(snap.entries.get('dev/loop200')).toMatchObject({ type: 'block', rdev: '7:200', gid: 6 });
    expect(snap.entries.get('var/fifo')).toMatchObject({ type: 'fifo', mode: 0o620 });
    expect(snap.entries.get('etc/dangling-link')).toMatchObject({
      type: 'symlink',
      linkTarget: '/nonexistent/target',
    });
    expect(snap.entries.get('var/sparse.img')).toMatchObject({ sparse: true, size: 16 * 1024 ** 2 });
    expect(snap.entries.get('etc/hostname')?.xattrs['user.comment']).toBe(
      `0s${Buffer.from('kept by every path').toString('base64')}`,
    );
    expect(snap.hardLinkGroups).toEqual([['etc/third-name', 'usr/bin/busybox', 'usr/bin/sh-link']]);
  });

  it('reports what a careless copy loses', async () => {
    const copy = path.join(tmp, 'careless');
    await runCommand(['cp', '-r', '--no-preserve=all', '--sparse=never', tree, copy]);
    const diffs = await compareTrees(tree, copy);
    for (const expected of [
      /^odd-owner: uid/,
      /^usr\/bin\/suid-tool: mode/,
      /^usr\/bin\/suid-tool: xattrs/,
      /^etc\/hostname: mtime/,
      /^var\/sparse.img: sparse/,
      /^hard links:/,
    ]) {
      expect(
        diffs.some((d) => expected.test(d)),
        `${expected} in\n${diffs.join('\n')}`,
      ).toBe(true);
    }
  });

  it('shows why btrfs trees with device nodes are not put through mkfs.btrfs --rootdir', async () => {
    const image = path.join(tmp, 'btrfs.img');
    await runCommand(['truncate', '-s', '200M', image]);
    await makeFs({ fs: 'btrfs', device: image, rootDir: tree });
    const dir = path.join(tmp, 'mnt');
    await mkdir(dir);
    await runCommand(['mount', '-o', 'ro,loop', image, dir]);
    try {
      const diffs = await compareTrees(tree, dir, { sparse: false });
      expect(diffs).toContain('dev/loop200: rdev "7:200" != "0:0"');
    } finally {
      await runCommand(['umount', dir]);
    }
  });
});

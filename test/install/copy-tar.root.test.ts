/**
 * Real copy and tar installs of a sample tree holding everything a root tree must keep (owners,
 * modes, devices, hard links, xattrs, ACLs, sparse files), a "live" source with pseudo
 * filesystems mounted, and an installer that crashes leaving a chrooted process and a mount.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installRootTree } from '../../src/install/install-root-tree.js';
import { listMountsUnder, listProcessesInTree } from '../../src/install/target-guard.js';
import { runCommand } from '../../src/tools/exec.js';
import { createTar, type TarCompression } from '../../src/tools/tar.js';
import { buildSampleTree } from '../helpers/sample-tree.js';
import { compareTrees } from '../helpers/tree-compare.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';
import { makeContext } from './fixtures.js';

let scratch: string;
let sample: string;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'xenkit-copy-tar-'));
  sample = path.join(scratch, 'sample');
  await mkdir(sample);
  await buildSampleTree(sample);
  // installRootTree checks for a shell, as xen-tools checked for /bin/ls.
  await writeFile(path.join(sample, 'usr/bin/sh'), '#!\n');
  await chmod(path.join(sample, 'usr/bin/sh'), 0o755);
});
afterAll(async () => {
  for (const m of await listMountsUnder(scratch))
    await runCommand(['umount', '--lazy', m.mountPoint], { allowFailure: true });
  await rm(scratch, { recursive: true, force: true });
});

async function newTarget(name: string): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir);
  return dir;
}

describe('copy install', () => {
  it('copies a tree exactly: owners, modes, devices, hard links, xattrs and ACLs', async () => {
    const target = await newTarget('copy');
    const install = makeInstallSpec({ method: 'copy', source: sample });
    const result = await installRootTree({ install, target, packages: [] }, makeContext());
    expect(result.method).toBe('copy');
    expect(await compareTrees(sample, target)).toEqual([]);
  });

  it('copies a live system without the contents of its pseudo filesystems and never into itself', async () => {
    const live = path.join(scratch, 'live');
    for (const dir of ['proc', 'run', 'tmp', 'etc', 'srv/guests'])
      await mkdir(path.join(live, dir), { recursive: true });
    await writeFile(path.join(live, 'etc/hostname'), 'live\n');
    await writeFile(path.join(live, 'tmp/scratch-file'), 'x');
    await writeFile(path.join(live, 'srv/keep-me'), 'data\n');
    await chmod(path.join(live, 'tmp'), 0o1777);
    await runCommand(['mount', '-t', 'proc', 'proc', path.join(live, 'proc')]);
    await runCommand(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', path.join(live, 'run')]);
    await writeFile(path.join(live, 'run/pidfile'), '1');
    await mkdir(path.join(live, 'usr/bin'), { recursive: true });
    await writeFile(path.join(live, 'usr/bin/sh'), '#!\n');
    const target = path.join(live, 'srv/guests/g1');
    await mkdir(target);
    try {
      const install = makeInstallSpec({ method: 'copy', source: live });
      await installRootTree({ install, target, packages: [] }, makeContext());
      expect(await readdir(path.join(target, 'proc'))).toEqual([]);
      expect(await readdir(path.join(target, 'run'))).toEqual([]);
      expect(await readdir(path.join(target, 'tmp'))).toEqual([]);
      expect(await readdir(path.join(target, 'srv/guests'))).toEqual([]);
      expect(await readdir(path.join(target, 'srv'))).toEqual(['guests', 'keep-me']);
      const diffs = await compareTrees(live, target, { ignore: ['proc', 'run', 'tmp', 'srv/guests/g1'] });
      expect(diffs.filter((d) => !/^(proc|run|tmp)\//.test(d))).toEqual([]);
    } finally {
      await runCommand(['umount', path.join(live, 'run')], { allowFailure: true });
      await runCommand(['umount', path.join(live, 'proc')], { allowFailure: true });
    }
  });
});

describe('tar install', () => {
  it.each(['none', 'gzip', 'xz', 'zstd'] as TarCompression[])(
    'unpacks a %s archive exactly, detecting the compression itself',
    async (compression) => {
      const archive = path.join(scratch, `sample-${compression}.tar${compression === 'none' ? '' : '.x'}`);
      await createTar(sample, archive, compression);
      const target = await newTarget(`tar-${compression}`);
      const install = makeInstallSpec({ method: 'tar', source: archive });
      const result = await installRootTree({ install, target, packages: [] }, makeContext());
      expect(result.method).toBe('tar');
      expect(await compareTrees(sample, target)).toEqual([]);
    },
  );
});

describe('an installer that dies leaving a chrooted process and a mount', () => {
  it('is cleaned up: the process is killed and /proc unmounted before the error is reported', async () => {
    const bin = path.join(scratch, 'crash-bin');
    await mkdir(bin);
    const fake = path.join(bin, 'crashing-debootstrap');
    // Like a debootstrap killed mid-configure: /proc mounted and a daemon running in the chroot.
    await writeFile(
      fake,
      [
        '#!/bin/sh',
        'eval "target=\\${$(($# - 1))}"',
        'mkdir -p "$target/bin" "$target/proc"',
        'cp /usr/bin/busybox "$target/bin/busybox"',
        'mount -t proc proc "$target/proc"',
        'setsid chroot "$target" /bin/busybox sleep 600 </dev/null >/dev/null 2>&1 &',
        'sleep 0.3',
        'echo "E: Failure while configuring base packages." >&2',
        'exit 1',
        '',
      ].join('\n'),
    );
    await chmod(fake, 0o755);
    const target = await newTarget('crash');
    const install = makeInstallSpec({ method: 'debootstrap', debootstrapCommand: fake });
    const ctx = makeContext();
    await expect(installRootTree({ install, target, packages: [] }, ctx)).rejects.toThrow(
      /Failure while configuring/,
    );
    expect(await listProcessesInTree(target)).toEqual([]);
    expect(await listMountsUnder(target)).toEqual([]);
    expect(ctx.warnings.join('\n')).toMatch(/killed busybox\[\d+\]/);
  });
});

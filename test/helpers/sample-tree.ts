/** Builds a small root tree with everything a filesystem population must keep (needs root). */
import { chmod, chown, link, mkdir, symlink, writeFile, open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { runCommand, hasCommand } from '../../src/tools/exec.js';

export interface SampleTreeOptions {
  /** Character and block device nodes (mkfs.btrfs --rootdir cannot keep their numbers). */
  devices?: boolean;
  /** Mode and owner of the top directory. */
  root?: { mode: number; uid: number; gid: number };
}

/** What the sample tree holds that needs an optional tool. */
export interface SampleTreeReport {
  capability: boolean;
}

/** Creates the sample tree in `dir` (which must exist and be empty). */
export async function buildSampleTree(
  dir: string,
  options: SampleTreeOptions = {},
): Promise<SampleTreeReport> {
  const p = (...parts: string[]): string => path.join(dir, ...parts);
  await mkdir(p('etc'), { recursive: true });
  await mkdir(p('usr/bin'), { recursive: true });
  await mkdir(p('var/tmp'), { recursive: true });
  await mkdir(p('srv/shared'), { recursive: true });
  await mkdir(p('deep/a/b/c/d/e'), { recursive: true });

  await writeFile(p('etc/hostname'), 'sample\n');
  await writeFile(p('etc/shadow'), 'root:*:19000:0:99999:7:::\n');
  await chmod(p('etc/shadow'), 0o640);
  await chown(p('etc/shadow'), 0, 42);
  await writeFile(p('odd-owner'), 'owned by nobody we know\n');
  await chown(p('odd-owner'), 123456, 654321);
  await writeFile(p('name with spaces and ünïcödé'), 'x');
  await writeFile(p('empty'), '');
  await writeFile(p('usr/bin/random.bin'), randomBytes(1024 * 1024 + 17));
  await writeFile(p('deep/a/b/c/d/e/leaf'), 'leaf\n');

  await writeFile(p('usr/bin/suid-tool'), '#!/bin/sh\necho hi\n');
  await chmod(p('usr/bin/suid-tool'), 0o4755);
  await writeFile(p('usr/bin/sgid-tool'), '#!/bin/sh\n');
  await chown(p('usr/bin/sgid-tool'), 0, 5);
  await chmod(p('usr/bin/sgid-tool'), 0o2711);
  await chmod(p('var/tmp'), 0o1777);
  await chown(p('srv/shared'), 1000, 1000);
  await chmod(p('srv/shared'), 0o2775);

  await symlink('hostname', p('etc/relative-link'));
  await symlink('/nonexistent/target', p('etc/dangling-link'));
  await symlink('../usr/bin', p('etc/dir-link'));

  await writeFile(p('usr/bin/busybox'), 'multi-call\n');
  await link(p('usr/bin/busybox'), p('usr/bin/sh-link'));
  await link(p('usr/bin/busybox'), p('etc/third-name'));

  await runCommand(['mkfifo', '-m', '0620', p('var/fifo')]);
  if (options.devices !== false) {
    await mkdir(p('dev'));
    await runCommand(['mknod', '-m', '0666', p('dev/null'), 'c', '1', '3']);
    await runCommand(['mknod', '-m', '0660', p('dev/loop200'), 'b', '7', '200']);
    await chown(p('dev/loop200'), 0, 6);
  }

  // 16 MiB with data only at 8 MiB: a file with holes on both sides.
  const sparse = await open(p('var/sparse.img'), 'w');
  await sparse.write('data in the middle', 0, 'utf8');
  await sparse.write('middle', 8 * 1024 * 1024);
  await sparse.truncate(16 * 1024 * 1024);
  await sparse.close();

  await runCommand(['setfattr', '-n', 'user.comment', '-v', 'kept by every path', p('etc/hostname')]);
  await runCommand(['setfattr', '-n', 'user.binary', '-v', '0sAAECAwQ=', p('usr/bin/random.bin')]);
  await runCommand(['setfattr', '-n', 'user.on-dir', '-v', 'yes', p('srv/shared')]);
  await runCommand(['setfacl', '-m', 'u:4321:rw', p('odd-owner')]);
  const capability = await hasCommand('setcap');
  // setcap after chmod/chown: changing the owner later would clear security.capability.
  if (capability) await runCommand(['setcap', 'cap_net_raw+ep', p('usr/bin/suid-tool')]);
  await runCommand(['touch', '-h', '-d', '2001-02-03 04:05:06', p('etc/hostname'), p('usr/bin/busybox')]);

  if (options.root) {
    await chown(dir, options.root.uid, options.root.gid);
    await chmod(dir, options.root.mode);
  } else {
    await chown(dir, 0, 0);
    await chmod(dir, 0o755);
  }
  return { capability };
}

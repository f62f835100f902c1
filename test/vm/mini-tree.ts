/**
 * A small root tree for the VM tests: the parts of the cached bookworm tree that xenkit's
 * install check and customization touch (/etc, dpkg's status, a shell and the merged-/usr
 * links), about 8 MB instead of 200 MB. Under TCG every megabyte untarred and written by mkfs
 * counts: a whole guest took ~220 s in a VM with the full tree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../src/tools/exec.js';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { vmCacheDir } from './boot-files.js';

const KEEP = [
  './etc',
  './root',
  './var/lib/dpkg',
  './usr/bin/bash',
  './usr/bin/sh',
  './usr/bin/dash',
  './usr/lib/os-release',
  './bin',
  './sbin',
  './lib',
  './lib64',
];
const EMPTY_DIRS = ['boot', 'dev', 'proc', 'sys', 'tmp', 'run', 'var/log', 'home', 'srv', 'mnt'];

/** The cached small tree tarball (made from bookwormTarball on first use). */
export async function miniTreeTarball(): Promise<string> {
  const target = path.join(vmCacheDir(), 'bookworm-mini.tar');
  if (fs.existsSync(target)) return target;
  const full = await bookwormTarball();
  const dir = fs.mkdtempSync(path.join(vmCacheDir(), 'mini-tree-'));
  try {
    await runCommand(['tar', '-xpf', full, '--numeric-owner', '-C', dir, ...KEEP]);
    for (const d of EMPTY_DIRS) fs.mkdirSync(path.join(dir, d), { recursive: true });
    fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
    await runCommand(['tar', '-cf', `${target}.partial`, '--numeric-owner', '-C', dir, '.']);
    fs.renameSync(`${target}.partial`, target);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return target;
}

/** Facts about an installed root tree: package count, size, the guest's kernel and initrd. */
import { lstat, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import { runCommand, type ExecOptions } from '../tools/exec.js';

/** Counts packages dpkg records as fully installed in `var/lib/dpkg/status` (0 when there is none). */
export async function countInstalledPackages(target: string): Promise<number> {
  let status: string;
  try {
    status = await readFile(path.join(target, 'var/lib/dpkg/status'), 'utf8');
  } catch {
    return 0;
  }
  return countInstalledInStatus(status);
}

/** Counts `Status: install ok installed` stanzas in dpkg status text. */
export function countInstalledInStatus(status: string): number {
  return status.split('\n').filter((line) => /^Status: \S+ ok installed\s*$/.test(line)).length;
}

/**
 * The apparent size of a tree in bytes (`du -sbx`): every inode once, however many hard links it
 * has, without crossing into other filesystems. du rather than a walk in node: 30 ms instead of
 * seconds for a 15 000-file tree, and no lstat result per file in this process's heap.
 */
export async function measureTreeBytes(target: string, exec: ExecOptions = {}): Promise<number> {
  // Exit status 1 means some entries could not be read; the total of the rest is still printed.
  const result = await runCommand(['du', '-s', '-b', '-x', '--', target], { ...exec, allowFailure: true });
  const bytes = /^(\d+)\s/.exec(result.stdout)?.[1];
  if (bytes === undefined) {
    throw runtimeError(
      'E_TREE_SIZE',
      `cannot measure the tree "${target}": ${result.stderr.trim().split('\n').at(-1) ?? 'du printed nothing'}`,
      'check that the directory exists and is readable',
    );
  }
  return Number(bytes);
}

export interface GuestKernel {
  /** Path inside the guest, e.g. `/boot/vmlinuz-6.1.0-28-amd64`. */
  kernel: string;
  /** The matching `/boot/initrd.img-VERSION`, when there is one. */
  initrd: string | undefined;
  version: string;
}

/** The newest `/boot/vmlinuz-*` of the tree and its initrd, or undefined when it has no kernel. */
export async function findGuestKernel(target: string): Promise<GuestKernel | undefined> {
  let names: string[];
  try {
    names = await readdir(path.join(target, 'boot'));
  } catch {
    return undefined;
  }
  const versions = names
    .map((n) => /^vmlinuz-(.+)$/.exec(n)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions.at(-1);
  if (version === undefined) return undefined;
  const initrdName = `initrd.img-${version}`;
  return {
    kernel: `/boot/vmlinuz-${version}`,
    initrd: names.includes(initrdName) ? `/boot/${initrdName}` : undefined,
    version,
  };
}

/** Whether the tree looks like a complete system: it has a shell (what xen-tools checked with /bin/ls). */
export async function hasShell(target: string): Promise<boolean> {
  for (const candidate of ['usr/bin/sh', 'bin/sh']) {
    const st = await lstat(path.join(target, candidate)).catch(() => undefined);
    if (st && (st.isFile() || st.isSymbolicLink())) return true;
  }
  return false;
}

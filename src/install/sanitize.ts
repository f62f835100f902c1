/**
 * sanitizeRootTree: strips what must not be shared between guests or shipped in an image, right
 * after installation and for every method (a copied or unpacked tree carries its source's identity
 * too). The customize step then creates fresh identities per guest (SSH host keys, machine-id,
 * random seed), so a cloned tree never shares host keys with its source or its siblings.
 */
import { lstat, readdir, rm, truncate } from 'node:fs/promises';
import path from 'node:path';
import type { PlanAction } from '../plan/plan.js';

/** One rule: files in `dir` whose names match `pattern` are removed (`keep` names survive). */
interface RemoveRule {
  dir: string;
  pattern: RegExp;
  keep?: readonly string[];
  why: string;
}

/** What is removed, as data (paths relative to the tree's root). */
const REMOVE_RULES: readonly RemoveRule[] = [
  { dir: 'var/cache/apt/archives', pattern: /\.deb$/, why: 'downloaded packages (tens to hundreds of MB)' },
  { dir: 'var/cache/apt/archives/partial', pattern: /./, why: 'half-downloaded packages' },
  { dir: 'var/cache/apt', pattern: /\.bin$/, why: 'apt binary caches, rebuilt on demand' },
  // `lock` and `partial/` are apt's own and are left; the guest refreshes its lists itself.
  {
    dir: 'var/lib/apt/lists',
    pattern: /./,
    keep: ['lock', 'partial'],
    why: 'package lists, stale by boot time',
  },
  { dir: 'var/lib/apt/lists/partial', pattern: /./, why: 'half-downloaded package lists' },
  { dir: 'etc/ssh', pattern: /^ssh_host_.*key(\.pub)?$/, why: 'SSH host keys: every guest needs its own' },
  { dir: 'var/lib/systemd', pattern: /^(random-seed|credential\.secret)$/, why: 'per-machine secrets' },
  { dir: 'var/lib/dhcp', pattern: /\.leases?$/, why: "the source's DHCP leases" },
  {
    dir: 'etc/udev/rules.d',
    pattern: /^70-persistent-net\.rules$/,
    why: "NIC names bound to the source's MACs",
  },
];

/** Files emptied rather than removed: an empty machine-id makes systemd create one on first boot. */
const EMPTY_FILES: readonly string[] = ['etc/machine-id'];

/** Removed only when it is a regular file (Debian makes it a symlink to /etc/machine-id). */
const REMOVE_IF_FILE: readonly string[] = ['var/lib/dbus/machine-id'];

/** The sanitizing actions for `--dry-run` (globs shown as patterns). */
export function describeSanitize(target: string): PlanAction[] {
  return [
    ...REMOVE_RULES.map((r): PlanAction => ({
      kind: 'note',
      text: `remove ${path.join(target, r.dir)}/${r.pattern.source}: ${r.why}`,
    })),
    ...EMPTY_FILES.map((f): PlanAction => ({ kind: 'write', path: path.join(target, f), content: '' })),
    ...REMOVE_IF_FILE.map((f): PlanAction => ({ kind: 'remove', path: path.join(target, f) })),
  ];
}

/**
 * Whether every component of `rel` below `target` is a real directory or file, not a symlink: a
 * copied tree may hold absolute links that would lead the removal out of the tree onto the host.
 */
async function isPlainPath(target: string, rel: string): Promise<boolean> {
  let current = target;
  for (const part of rel.split('/')) {
    current = path.join(current, part);
    const st = await lstat(current).catch(() => undefined);
    if (!st || st.isSymbolicLink()) return false;
  }
  return true;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/**
 * Removes package caches and lists and the source's identities (SSH host keys, machine-id content,
 * random seed, DHCP leases) from the tree at `target`. Returns the guest paths it removed or emptied.
 */
export async function sanitizeRootTree(target: string): Promise<string[]> {
  const changed: string[] = [];
  for (const rule of REMOVE_RULES) {
    const dir = path.join(target, rule.dir);
    if (!(await isPlainPath(target, rule.dir))) continue;
    for (const name of await listDir(dir)) {
      if (!rule.pattern.test(name) || rule.keep?.includes(name)) continue;
      const entry = await lstat(path.join(dir, name)).catch(() => undefined);
      if (!entry || entry.isDirectory()) continue;
      await rm(path.join(dir, name), { force: true });
      changed.push(`/${rule.dir}/${name}`);
    }
  }
  for (const file of EMPTY_FILES) {
    const st = await lstat(path.join(target, file)).catch(() => undefined);
    if (st?.isFile() && st.size > 0 && (await isPlainPath(target, file))) {
      await truncate(path.join(target, file), 0);
      changed.push(`/${file}`);
    }
  }
  for (const file of REMOVE_IF_FILE) {
    const st = await lstat(path.join(target, file)).catch(() => undefined);
    if (st?.isFile() && (await isPlainPath(target, file))) {
      await rm(path.join(target, file), { force: true });
      changed.push(`/${file}`);
    }
  }
  return changed;
}

/**
 * Autostart, the xendomains way: `/etc/xen/auto/NAME.cfg` is a symlink to `../NAME.cfg`, and the
 * host's boot starts every config linked there. Also lists the defined configs (`/etc/xen/*.cfg`).
 */
import { lstat, mkdir, readdir, readlink, stat, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import type { Paths } from '../paths.js';

/** One entry of the autostart directory. */
export interface AutostartEntry {
  /** The file name without `.cfg`. */
  name: string;
  /** The entry in /etc/xen/auto. */
  linkPath: string;
  /** The config it points at (the entry itself when it is a plain file). */
  cfgPath: string;
  /** False for a dangling link. */
  exists: boolean;
}

/** One domain config in /etc/xen. */
export interface DefinedConfig {
  name: string;
  cfgPath: string;
}

// Guest names become file names: no path separators, no leading dot.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw usageError(
      'E_DOMAIN_NAME',
      `domain name "${name}" is not valid`,
      'use letters, digits, dot, dash and underscore',
    );
  }
}

/** The config file of domain NAME (`/etc/xen/NAME.cfg`). */
export function cfgPathFor(paths: Paths, name: string): string {
  return path.join(paths.xenDir, `${name}.cfg`);
}

/** The autostart link of domain NAME (`/etc/xen/auto/NAME.cfg`). */
export function autostartLinkFor(paths: Paths, name: string): string {
  return path.join(paths.autoDir, `${name}.cfg`);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function cfgFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((file) => file.endsWith('.cfg')).sort();
  } catch {
    return [];
  }
}

/** Every entry of /etc/xen/auto, sorted by name. */
export async function listAutostart(paths: Paths): Promise<AutostartEntry[]> {
  const entries: AutostartEntry[] = [];
  for (const file of await cfgFiles(paths.autoDir)) {
    const linkPath = path.join(paths.autoDir, file);
    const info = await lstat(linkPath);
    const cfgPath = info.isSymbolicLink() ? path.resolve(paths.autoDir, await readlink(linkPath)) : linkPath;
    entries.push({ name: file.slice(0, -4), linkPath, cfgPath, exists: await exists(linkPath) });
  }
  return entries;
}

/** Every /etc/xen/*.cfg, sorted by name. */
export async function listDefinedConfigs(paths: Paths): Promise<DefinedConfig[]> {
  return (await cfgFiles(paths.xenDir)).map((file) => ({
    name: file.slice(0, -4),
    cfgPath: path.join(paths.xenDir, file),
  }));
}

/** Links /etc/xen/auto/NAME.cfg -> ../NAME.cfg; returns false when it already was. */
export async function enableAutostart(paths: Paths, name: string): Promise<boolean> {
  checkName(name);
  const cfg = cfgPathFor(paths, name);
  if (!(await exists(cfg))) {
    throw usageError(
      'E_NO_CFG',
      `domain "${name}": ${cfg} does not exist`,
      `create the guest first: xen-create-image --hostname=${name}`,
    );
  }
  const link = autostartLinkFor(paths, name);
  const current = await lstat(link).catch(() => undefined);
  if (current) {
    const target = current.isSymbolicLink() ? path.resolve(paths.autoDir, await readlink(link)) : link;
    if (target === cfg) return false;
    throw runtimeError(
      'E_AUTOSTART_TAKEN',
      `domain "${name}": ${link} already exists and is not a link to ${cfg}`,
      `look at it and remove it by hand if it is stale`,
    );
  }
  await mkdir(paths.autoDir, { recursive: true });
  // Relative, as xendomains users write it, so the link survives a moved root.
  await symlink(path.relative(paths.autoDir, cfg), link);
  return true;
}

/** Removes /etc/xen/auto/NAME.cfg; returns false when there was none. Never touches the cfg. */
export async function disableAutostart(paths: Paths, name: string): Promise<boolean> {
  checkName(name);
  const link = autostartLinkFor(paths, name);
  const current = await lstat(link).catch(() => undefined);
  if (!current) return false;
  if (!current.isSymbolicLink()) {
    throw runtimeError(
      'E_AUTOSTART_NOT_LINK',
      `domain "${name}": ${link} is a file, not a link`,
      'it may be the only copy of the config: move it by hand',
    );
  }
  await unlink(link);
  return true;
}

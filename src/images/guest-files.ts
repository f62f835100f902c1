/**
 * The files that make up an existing guest: `/etc/xen/NAME.cfg` (parsed), the images its disks
 * name, the autostart link and the creation log, all under one root.
 */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import { parseXlCfg } from '../formats/xl-cfg-parse.js';
import type { DiskConfig, DomainConfig } from '../model/domain-config.js';
import { assertGuestName } from '../model/guest-name.js';
import { underRoot, type Paths } from '../paths.js';

/** One disk of a guest, with its host path placed under the root. */
export interface GuestDisk {
  /** Host path of the image or device (under the root). */
  path: string;
  /** The disk as the cfg says. */
  config: DiskConfig;
  /** A regular file (image) rather than a block device or a missing path. */
  isFile: boolean;
  exists: boolean;
}

/** An existing guest as found on disk. */
export interface GuestFiles {
  name: string;
  cfgPath: string;
  cfgText: string;
  config: DomainConfig;
  disks: GuestDisk[];
  /** `/etc/xen/auto/NAME.cfg`, when present (a symlink or a file). */
  autostartPath: string | undefined;
  logPath: string;
}

/** `/etc/xen/NAME.cfg` (or the given extension). */
export function cfgPathOf(paths: Paths, name: string, extension = '.cfg'): string {
  return path.join(paths.xenDir, `${name}${extension}`);
}

/** `/etc/xen/auto/NAME.cfg`. */
export function autostartPathOf(paths: Paths, name: string, extension = '.cfg'): string {
  return path.join(paths.autoDir, `${name}${extension}`);
}

/** `/var/log/xen-tools/NAME.log`. */
export function logPathOf(paths: Paths, name: string): string {
  return path.join(paths.logDir, `${name}.log`);
}

/** Whether anything (even a dangling symlink) is at `file`. */
export function isPresent(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** The disks of a parsed cfg with their host paths (CD-ROMs left out). */
export function guestDisksOf(paths: Paths, config: DomainConfig): GuestDisk[] {
  return config.disks
    .filter((d) => !d.isCdrom && d.target !== '')
    .map((d) => {
      const hostPath = underRoot(paths, d.target);
      let isFile = false;
      let exists = false;
      try {
        const stat = lstatSync(hostPath);
        exists = true;
        isFile = stat.isFile();
      } catch {
        // missing image: reported by the callers that need it
      }
      return { path: hostPath, config: d, isFile, exists };
    });
}

/**
 * Reads the guest `name` from its cfg; E_NO_GUEST when the cfg is missing. Both `name` and the
 * cfg's own `name` must be guest names (E_GUEST_NAME): either may become a path later.
 */
export function readGuest(paths: Paths, name: string, extension = '.cfg'): GuestFiles {
  const cfgPath = cfgPathOf(paths, assertGuestName(name, 'command line'), extension);
  if (!existsSync(cfgPath)) {
    throw runtimeError(
      'E_NO_GUEST',
      `guest "${name}": no domain config ${cfgPath}`,
      'xenkit list-images shows the guests there are',
    );
  }
  const cfgText = readFileSync(cfgPath, 'utf8');
  const config = parseXlCfg(cfgText, cfgPath);
  assertGuestName(config.name, cfgPath);
  const auto = autostartPathOf(paths, name, extension);
  return {
    name,
    cfgPath,
    cfgText,
    config,
    disks: guestDisksOf(paths, config),
    autostartPath: isPresent(auto) ? auto : undefined,
    logPath: logPathOf(paths, name),
  };
}

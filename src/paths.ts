import path from 'node:path';

/** Environment variable that moves every path xenkit touches under another root. */
export const ROOT_ENV = 'XENKIT_ROOT';

/** Every location xenkit reads or writes, all hanging off one root. */
export interface Paths {
  /** The root everything hangs off: `/` normally, a scratch directory in tests. */
  root: string;
  /** xen-tools configuration directory (`/etc/xen-tools`). */
  confDir: string;
  /** Defaults file (`/etc/xen-tools/xen-tools.conf`). */
  confFile: string;
  /** Domain configs (`/etc/xen`). */
  xenDir: string;
  /** Autostart links (`/etc/xen/auto`). */
  autoDir: string;
  /** Creation logs (`/var/log/xen-tools`). */
  logDir: string;
  /** Runtime state: pids, QMP and console sockets, domain-ID counter (`/run/xenkit`). */
  stateDir: string;
  /** Persistent state that survives reboots: ID counter, ips file locks (`/var/lib/xenkit`). */
  libDir: string;
  /** Guests saved at host shutdown, restored at boot (`/var/lib/xenkit/save`; save_dir in xenkit.conf). */
  saveDir: string;
  /** Caches: root trees, packages (`/var/cache/xenkit`). */
  cacheDir: string;
  /**
   * Locks (`/run/xenkit/lock`): under root's own /run/xenkit, not the world-writable /run/lock,
   * where any user could make the directory first.
   */
  lockDir: string;
  /** Hook and role directories shipped by the admin (`/etc/xen-tools/hooks.d`, `role.d`). */
  hooksDir: string;
  roleDir: string;
  /** Skeleton copied into every guest (`/etc/xen-tools/skel`). */
  skelDir: string;
  /** xenkit's own settings: the driver and libvirt connection (`/etc/xenkit/xenkit.conf`). */
  xenkitConfFile: string;
  /** Named libvirt hosts, `NAME URI` per line (`/etc/xenkit/hosts`). */
  hostsFile: string;
}

/** Resolves the root: an explicit option wins over `XENKIT_ROOT`, which wins over `/`. */
export function resolveRoot(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = option ?? env[ROOT_ENV] ?? '/';
  return path.resolve(chosen === '' ? '/' : chosen);
}

/** All xenkit locations under `root`. */
export function makePaths(root: string): Paths {
  const at = (...parts: string[]): string => path.join(root, ...parts);
  return {
    root,
    confDir: at('etc/xen-tools'),
    confFile: at('etc/xen-tools/xen-tools.conf'),
    xenDir: at('etc/xen'),
    autoDir: at('etc/xen/auto'),
    logDir: at('var/log/xen-tools'),
    stateDir: at('run/xenkit'),
    libDir: at('var/lib/xenkit'),
    saveDir: at('var/lib/xenkit/save'),
    cacheDir: at('var/cache/xenkit'),
    lockDir: at('run/xenkit/lock'),
    hooksDir: at('etc/xen-tools/hooks.d'),
    roleDir: at('etc/xen-tools/role.d'),
    skelDir: at('etc/xen-tools/skel'),
    xenkitConfFile: at('etc/xenkit/xenkit.conf'),
    hostsFile: at('etc/xenkit/hosts'),
  };
}

/**
 * Places a user-supplied absolute path (e.g. `--dir=/home/xen`) under the root, so that
 * `--dir=/home/xen` with root `/tmp/t` means `/tmp/t/home/xen`. Relative paths are taken
 * from the working directory and left as they are.
 */
export function underRoot(paths: Paths, userPath: string): string {
  if (!path.isAbsolute(userPath)) return path.resolve(userPath);
  if (paths.root === '/' || userPath.startsWith(paths.root + path.sep) || userPath === paths.root) {
    return path.normalize(userPath);
  }
  return path.join(paths.root, userPath);
}

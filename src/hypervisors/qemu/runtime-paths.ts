/** Where one running QEMU guest keeps its runtime files: `stateDir/qemu/NAME/`. */
import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runtimeError, usageError } from '../../errors.js';
import { assertGuestName } from '../../model/guest-name.js';

/** The files of one guest's runtime directory. */
export interface RuntimePaths {
  dir: string;
  pidfile: string;
  qmpSocket: string;
  consoleSocket: string;
  consoleLog: string;
  /** QEMU's `-chardev pipe` base: `events.in` (a FIFO we write commands to), `events.out` (the log). */
  eventsBase: string;
  eventsIn: string;
  eventsOut: string;
  /** The registry record (`domain.json`). */
  record: string;
  /** QEMU's stderr/startup log, kept for diagnostics. */
  qemuLog: string;
  /** Guest kernel and initrd extracted from the image (pygrub style). */
  kernelCacheDir: string;
}

// sun_path is 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH = 107;

/**
 * The runtime directory of guest `name` under `stateDir`. A name that is not one path component
 * is refused here (E_GUEST_NAME naming `where`), so no caller can build a path outside `qemu/`.
 */
export function runtimePathsFor(stateDir: string, name: string, where = 'QEMU runtime state'): RuntimePaths {
  assertGuestName(name, where);
  const dir = path.join(stateDir, 'qemu', name);
  const at = (file: string): string => path.join(dir, file);
  const paths: RuntimePaths = {
    dir,
    pidfile: at('qemu.pid'),
    qmpSocket: at('qmp.sock'),
    consoleSocket: at('console.sock'),
    consoleLog: at('console.log'),
    eventsBase: at('events'),
    eventsIn: at('events.in'),
    eventsOut: at('events.out'),
    record: at('domain.json'),
    qemuLog: at('qemu.log'),
    kernelCacheDir: at('boot'),
  };
  if (Buffer.byteLength(paths.consoleSocket) > MAX_SOCKET_PATH) {
    throw usageError(
      'E_QEMU_PATH',
      `guest "${name}": socket path ${paths.consoleSocket} is longer than the ${MAX_SOCKET_PATH} bytes a UNIX socket allows`,
      'use a shorter XENKIT_ROOT or a shorter guest name',
    );
  }
  return paths;
}

/**
 * Makes `stateDir` (0755) and `stateDir/qemu` (0700) and checks the latter: a real directory
 * owned by us, closed to other users (a wider mode is narrowed), so the QMP and console sockets
 * inside are reachable by no one else. Every guest directory below it is made 0700 too.
 */
export function ensureRuntimeBase(stateDir: string): string {
  const base = path.join(stateDir, 'qemu');
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  try {
    mkdirSync(base, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const st = lstatSync(base);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isDirectory() || st.uid !== uid) {
    throw runtimeError(
      'E_STATE_DIR',
      `${base} is ${st.isDirectory() ? `owned by uid ${st.uid}` : 'not a directory'}; it must be a directory of uid ${uid}`,
      'look at who made it and remove it: QMP and console sockets live there, closed to other users',
    );
  }
  if ((st.mode & 0o077) !== 0) chmodSync(base, 0o700);
  return base;
}

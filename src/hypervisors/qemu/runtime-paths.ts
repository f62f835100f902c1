/** Where one running QEMU guest keeps its runtime files: `stateDir/qemu/NAME/`. */
import path from 'node:path';
import { usageError } from '../../errors.js';

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

/** The runtime directory of guest `name` under `stateDir`. */
export function runtimePathsFor(stateDir: string, name: string): RuntimePaths {
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

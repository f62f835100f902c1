/**
 * qemu-storage-daemon: serves a qcow2 (or any QEMU image) as a plain file through a FUSE export,
 * so tools that want a raw device (losetup, mount, tune2fs, blkid) can work on a qcow2 overlay on
 * a host without the nbd kernel module. The daemon is ours: stopped by its pid, never by name.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { XenkitError } from '../errors.js';
import type { EventSink } from '../log/events.js';
import { quoteArg } from '../log/events.js';
import { isAlive } from '../plan/process-identity.js';
import { spawnTied, type ExecOptions } from './exec.js';
import { readMountTable, unmountDir } from './mount.js';

export interface FuseExportOptions {
  /** The image file to serve. */
  image: string;
  /** Its format (`qcow2`, `raw`). */
  format: string;
  /** A regular file that becomes the export (created empty when missing). */
  mountpoint: string;
  /** Where the daemon writes its pid. */
  pidFile: string;
  writable: boolean;
  /**
   * Read-only only: open the image without taking QEMU's lock, beside a process that writes it
   * (a running guest). What is read may trail that writer's latest writes.
   */
  shareWithWriter?: boolean;
}

/** A running export. */
export interface FuseExport {
  pid: number;
  mountpoint: string;
  pidFile: string;
}

/**
 * The argv of the daemon; JSON options, so no path needs escaping. It does not daemonize: it runs
 * as a child that dies with xenkit (see startFuseExport).
 */
export function fuseExportArgv(options: FuseExportOptions): string[] {
  const blockdev = {
    driver: options.format,
    'node-name': 'disk',
    ...(options.writable ? {} : { 'read-only': true }),
    file: {
      driver: 'file',
      filename: options.image,
      ...(options.writable ? {} : { 'read-only': true }),
      // Read-only beside a writer (`qemu-img -U`): no lock taken, so a running guest's image opens.
      ...(!options.writable && options.shareWithWriter ? { locking: 'off' } : {}),
    },
  };
  const exportDef = {
    type: 'fuse',
    id: 'xenkit0',
    'node-name': 'disk',
    mountpoint: options.mountpoint,
    writable: options.writable,
  };
  return [
    'qemu-storage-daemon',
    '--blockdev',
    JSON.stringify(blockdev),
    '--export',
    JSON.stringify(exportDef),
    '--pidfile',
    options.pidFile,
  ];
}

/** How long a daemon may take to set up its export. */
const START_TIMEOUT_MS = 60_000;

function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the export; returns once the file serves the image (the daemon writes its pidfile once
 * its exports are set up). The daemon is a child that the kernel stops when xenkit dies, even by
 * SIGKILL: an orphan daemon whose FUSE mount went away spins a CPU core (qemu 7.2), and nothing
 * but xenkit uses the export.
 */
export async function startFuseExport(
  options: FuseExportOptions,
  exec: Pick<ExecOptions, 'sink' | 'signal'> = {},
): Promise<FuseExport> {
  if (!existsSync(options.mountpoint)) writeFileSync(options.mountpoint, '', { mode: 0o600 });
  const argv = fuseExportArgv(options);
  const logFile = `${options.pidFile}.log`;
  const child = spawnTied(argv, { sink: exec.sink, logFile });
  const started = Date.now();
  const fail = (how: string): XenkitError => {
    const tail = readOptional(logFile).trim().split('\n').slice(-5).join('\n');
    rmSync(logFile, { force: true });
    return new XenkitError('E_QSD', `qemu-storage-daemon ${how}: ${tail.split('\n').at(-1) ?? ''}`.trim(), {
      details: `command: ${argv.map(quoteArg).join(' ')}\n${tail}`,
    });
  };
  for (;;) {
    const pid = readPid(options.pidFile);
    if (pid === child.pid) break;
    if (child.hasExited()) throw fail(child.ending() ?? 'exited');
    const why = exec.signal?.aborted
      ? 'was cancelled'
      : Date.now() - started > START_TIMEOUT_MS
        ? 'timed out'
        : '';
    if (why) {
      await stopFuseExport({ pid: child.pid, mountpoint: options.mountpoint, pidFile: options.pidFile });
      throw fail(why);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  rmSync(logFile, { force: true });
  return { pid: child.pid, mountpoint: options.mountpoint, pidFile: options.pidFile };
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Stops the daemon (SIGTERM, SIGKILL after `graceMs`) and waits until it has closed the image.
 * qemu-storage-daemon 7.2 unmounts the export, closes (and flushes) every image and only then
 * unlinks its pidfile; the process itself lingers ~1.5 s more while a FUSE worker thread winds
 * down, so the pidfile going away is the signal that the image is complete.
 */
export async function stopFuseExport(exp: FuseExport, sink?: EventSink, graceMs = 10_000): Promise<void> {
  const started = Date.now();
  if (isAlive(exp.pid)) process.kill(exp.pid, 'SIGTERM');
  while (isAlive(exp.pid) && existsSync(exp.pidFile)) {
    if (Date.now() - started > graceMs) {
      process.kill(exp.pid, 'SIGKILL');
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  sink?.({ type: 'info', message: `stopped qemu-storage-daemon ${exp.pid} (${Date.now() - started} ms)` });
  if ((await readMountTable()).some((m) => m.mountPoint === exp.mountpoint))
    await unmountDir(exp.mountpoint, sink);
  rmSync(exp.mountpoint, { force: true });
}

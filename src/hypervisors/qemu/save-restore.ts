/**
 * `xm save` and `xm restore` under QEMU: the guest's state migrated into a save file (after a
 * header with its config, kernel and initrd), and back in through `-incoming` at the next launch.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../../errors.js';
import { QEMU_BINARY } from './argv.js';
import type { QmpClient } from './qmp-client.js';
import type { DomainRecord } from './registry.js';
import { extractPart, writeSaveStart, type SaveHeader } from './save-file.js';
import { refuseExistingSaveFile } from '../save-target.js';

const MiB = 1024 * 1024;

/** A guest started from a save file instead of booted. */
export interface Restore {
  file: string;
  header: SaveHeader;
}

/** `text` quoted for /bin/sh (QEMU runs the exec: migration URIs through it). */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * Saves the running guest of `record` to `file` (never over an existing one): stopped, migrated
 * into a temporary file beside it, synced and linked to its name once complete. A failed save
 * lets a guest that was running run on; ending the saved guest is the caller's.
 */
export async function saveGuest(
  record: DomainRecord,
  file: string,
  qmp: (fn: (q: QmpClient) => Promise<void>) => Promise<void>,
): Promise<void> {
  refuseExistingSaveFile(file);
  // Written under a temporary name next to it, linked to its name once complete.
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.xenkit-${process.pid}`);
  try {
    writeSaveStart(
      tmp,
      {
        config: record.config,
        cfgPath: record.cfgPath,
        savedAt: new Date().toISOString(),
        qemu: record.argv[0] ?? QEMU_BINARY,
        accel: record.accel.kind,
      },
      record.kernel,
      record.initrd,
    );
    await qmp(async (q) => {
      const status = await q.execute<{ running: boolean }>('query-status');
      await q.execute('stop');
      try {
        // QEMU 7.2 caps a migration at 32 MiB/s by default: a local file takes what it can.
        await q.execute('migrate-set-parameters', { 'max-bandwidth': 8 * 1024 * MiB });
        await q.execute('migrate', { uri: `exec:cat >> ${shellQuote(tmp)}` });
        await waitForMigration(q, `saving guest "${record.name}" to ${file}`);
      } catch (error) {
        if (status.running) await q.execute('cont').catch(() => undefined);
        throw error;
      }
    });
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The kernel and initrd the saved guest ran, copied out of the save file into `cacheDir`. */
export function restoredBootFiles(restore: Restore, cacheDir: string): { kernel?: string; initrd?: string } {
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const out: { kernel?: string; initrd?: string } = {};
  if (restore.header.kernel) {
    out.kernel = path.join(cacheDir, 'vmlinuz');
    extractPart(restore.file, restore.header.kernel, out.kernel);
  }
  if (restore.header.initrd) {
    out.initrd = path.join(cacheDir, 'initrd.img');
    extractPart(restore.file, restore.header.initrd, out.initrd);
  }
  return out;
}

/** Waits until the migration (outgoing to a save file, or incoming from one) has completed. */
export async function waitForMigration(qmp: QmpClient, what: string): Promise<void> {
  for (;;) {
    const info = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw runtimeError(
        'E_MIGRATE',
        `${what} failed: ${info['error-desc'] ?? info.status}`,
        'see the QEMU log of the guest',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

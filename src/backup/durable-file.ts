/**
 * Files of the repository made durable before they count: written under a temporary name in the
 * same directory, fsynced, renamed over the final name, and the directory fsynced. A run killed
 * at any point leaves either nothing or a temporary (`.tmp-*`, ignored and swept later) beside
 * the final names, never a half-written file under one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Temporary files of the repository start with this; readers skip them, a locked run removes them. */
export const TEMP_PREFIX = '.tmp-';

/** Whether a directory entry is a temporary left by a writer (possibly a killed one). */
export function isTempName(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

/** Writes `data` to `file` (mode 0600) via temp + fsync + rename; fsyncs the directory when `syncDir`. */
export async function writeDurably(file: string, data: Uint8Array | string, syncDir = true): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  if (syncDir) await syncDirectory(dir);
}

/** fsync of a directory, so the names in it (a rename, a removal) survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes `dir` (0700) if missing; an existing one is left as it is. */
export async function makePrivateDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
}

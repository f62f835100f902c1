/** Image files: created sparse or fully allocated, never over something that exists unless approved. */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { XenkitError, runtimeError } from '../errors.js';
import type { PlanAction, StepScope } from '../plan/plan.js';
import { allocateFile, fallocateArgv } from '../tools/fallocate.js';
import { checkFreeSpace, humanSize, isNoSpaceError, noSpaceError } from './free-space.js';
import { identityOf } from '../plan/run-journal.js';

export interface CreateImageFileOptions {
  path: string;
  /** Bytes. */
  size: number;
  allocation: 'sparse' | 'full';
  /** Default 0600: a guest disk holds the guest's secrets. */
  mode?: number;
  /**
   * Replacing an existing file was approved (`--force`). The new image is then built under a
   * temporary name beside it and only renamed over the old one by `finishImageFile`.
   */
  overwrite?: boolean;
}

/** An image being built: write to `workPath`; `finishImageFile` puts it at `path`. */
export interface ImageFile {
  path: string;
  workPath: string;
  size: number;
  /** Whether `workPath` is a temporary name that will replace an existing `path`. */
  replaces: boolean;
}

/** The undo description of a created image file (unique per path). */
export function imageUndoDescription(workPath: string): string {
  return `remove image file ${workPath}`;
}

/** The dry-run view of `createImageFile`. */
export function describeCreateImageFile(options: CreateImageFileOptions): PlanAction[] {
  const mode = options.mode ?? 0o600;
  const size = humanSize(options.size);
  const actions: PlanAction[] = [{ kind: 'mkdir', path: path.dirname(options.path) }];
  const where = options.overwrite
    ? `a temporary file beside ${options.path} (renamed over it when complete)`
    : options.path;
  actions.push({
    kind: 'note',
    text: `create ${options.allocation} image ${where}: ${size}, mode ${mode.toString(8).padStart(4, '0')}`,
  });
  if (options.allocation === 'full') {
    const target = options.overwrite ? temporaryName(options.path, 'new', 'XXXXXXXX') : options.path;
    actions.push({ kind: 'run', argv: fallocateArgv(target, options.size) });
  }
  return actions;
}

/**
 * Creates the image file (parents included, each registered for removal if we made it), sized
 * `size` bytes: a hole (ftruncate) for sparse, every block reserved for full (fallocate, or
 * zeros where the filesystem cannot fallocate). Throws E_EXISTS if `path` exists and
 * `overwrite` was not approved, E_NO_SPACE when the disk is (or would be) full.
 */
export async function createImageFile(options: CreateImageFileOptions, ctx: StepScope): Promise<ImageFile> {
  const finalPath = path.resolve(options.path);
  const dir = path.dirname(finalPath);
  const exists = await lstat(finalPath).then(
    () => true,
    () => false,
  );
  if (exists && !options.overwrite) {
    throw runtimeError(
      'E_EXISTS',
      `${finalPath} already exists`,
      'remove it first, or pass --force to replace it',
    );
  }
  if (options.allocation === 'full') await checkFreeSpace(dir, options.size);
  await makeParents(dir, ctx);
  const workPath = exists ? temporaryName(finalPath) : finalPath;
  const image: ImageFile = { path: finalPath, workPath, size: options.size, replaces: exists };

  let handle: FileHandle;
  const intent = ctx.undo.expect(imageUndoDescription(workPath), { kind: 'file', path: workPath });
  try {
    // O_EXCL: never open (and truncate) a file someone else created in the meantime.
    handle = await open(workPath, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  } catch (error) {
    intent.cancel();
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw runtimeError(
        'E_EXISTS',
        `${workPath} already exists`,
        'another xenkit run may be building it',
        error,
      );
    }
    throw error;
  }
  const created = await handle.stat();
  intent.made({ kind: 'file', path: workPath, ...identityOf(created) });
  ctx.undo.push(
    imageUndoDescription(workPath),
    () => removeIfSame(workPath, created.dev, created.ino),
    intent,
  );
  try {
    await handle.chmod(options.mode ?? 0o600);
    await handle.truncate(options.size);
    if (options.allocation === 'full') await allocate(handle, workPath, options.size, ctx);
  } catch (error) {
    if (isNoSpaceError(error)) throw await noSpaceError(finalPath, error);
    throw error;
  } finally {
    await handle.close();
  }
  return image;
}

/**
 * Creates an empty file at `file` that only root can read (0600), never over an existing one: a
 * tool such as qemu-img then writes into it and keeps its mode, where it would make a new file
 * 0644 and leave the guest's keys and password hash readable by every user.
 */
export async function createPrivateFile(file: string): Promise<void> {
  const handle = await open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  await handle.close();
}

/** Moves a finished image to its final path (the atomic replacement of an approved overwrite). */
export async function finishImageFile(image: ImageFile, ctx: StepScope): Promise<void> {
  if (image.workPath === image.path) return;
  await rename(image.workPath, image.path);
  // The old file is gone now; from here on the new image is the result and is kept.
  ctx.undo.release(imageUndoDescription(image.workPath));
}

/** Removes an intermediate image in the normal flow (e.g. the raw image a qcow2 was made from). */
export async function discardImageFile(workPath: string, ctx: StepScope): Promise<void> {
  await unlink(workPath);
  ctx.undo.release(imageUndoDescription(workPath));
}

/** A hidden, unique name in the same directory as `finalPath` (so a rename is atomic). */
export function temporaryName(
  finalPath: string,
  tag = 'new',
  suffix = randomBytes(4).toString('hex'),
): string {
  return path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.xenkit-${tag}-${suffix}`);
}

/**
 * Creates `dir` and its missing parents, outermost first. Each one's removal (if still empty) is
 * journaled before it is made, so a crash between the two leaves nothing the next run's recovery
 * does not know of; the undo removes them deepest first and leaves any that something else now
 * lives in.
 */
export async function makeParents(dir: string, ctx: Pick<StepScope, 'undo'>): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st) break;
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    const description = `remove directory ${d} if empty`;
    const intent = ctx.undo.expect(description, { kind: 'dir', path: d });
    await mkdir(d, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    ctx.undo.push(
      description,
      () =>
        rmdir(d).catch((error: NodeJS.ErrnoException) => {
          // Not empty: something else lives there now, and it is not ours to remove.
          if (error.code !== 'ENOENT' && error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
        }),
      intent,
    );
  }
}

/** Unlinks `file` only if it is still the very file we created (same device and inode). */
export async function removeIfSame(file: string, dev: number, ino: number): Promise<void> {
  const now = await stat(file).catch(() => undefined);
  if (now && now.dev === dev && now.ino === ino) await unlink(file);
}

async function allocate(handle: FileHandle, workPath: string, size: number, ctx: StepScope): Promise<void> {
  try {
    await allocateFile(workPath, size, { sink: ctx.sink, signal: ctx.signal });
    return;
  } catch (error) {
    if (!(error instanceof XenkitError) || !/not supported/i.test(`${error.message}\n${error.details ?? ''}`))
      throw error;
  }
  ctx.sink({
    type: 'info',
    message: `fallocate is not supported under ${path.dirname(workPath)}; writing zeros`,
  });
  await writeZeros(handle, size, ctx.signal);
}

const ZERO_CHUNK = Buffer.alloc(4 * 1024 * 1024);

/** Writes `size` zero bytes from the start (checking for cancellation between chunks). */
async function writeZeros(handle: FileHandle, size: number, signal: AbortSignal): Promise<void> {
  for (let offset = 0; offset < size; offset += ZERO_CHUNK.length) {
    if (signal.aborted)
      throw new XenkitError('E_CANCELLED', 'cancelled while writing zeros', { kind: 'cancelled' });
    const length = Math.min(ZERO_CHUNK.length, size - offset);
    await handle.write(ZERO_CHUNK, 0, length, offset);
  }
  await handle.sync();
}

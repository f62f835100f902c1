/** qcow2 images: converted from a finished raw image (a linked clone's overlay is made by images/clone-steps.ts). */
import { lstat, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import type { PlanAction, StepScope } from '../plan/plan.js';
import { convertArgv, convertImage, readImageInfo, type QemuImageInfo } from '../tools/qemu-img.js';
import { isNoSpaceError, noSpaceError } from './free-space.js';
import {
  createPrivateFile,
  imageUndoDescription,
  makeParents,
  removeIfSame,
  temporaryName,
} from './image-file.js';
import { identityOf } from '../plan/run-journal.js';

export interface ConvertToQcow2Options {
  /** The finished raw image. */
  source: string;
  /** Where the qcow2 goes. */
  target: string;
  /** full: clusters are allocated on the host up front (preallocation=falloc). */
  allocation: 'sparse' | 'full';
  /** Replacing an existing `target` was approved; it is replaced only once the new one is complete. */
  overwrite?: boolean;
}

/** The dry-run view of `convertToQcow2` (the temporary name is picked at run time). */
export function describeConvertToQcow2(options: ConvertToQcow2Options): PlanAction[] {
  const temp = temporaryName(options.target, 'new', 'XXXXXXXX');
  return [
    { kind: 'run', argv: convertArgv(convertOptions(options, temp)) },
    { kind: 'note', text: `rename ${temp} to ${options.target}` },
  ];
}

/**
 * Converts the raw image to qcow2 at a temporary name beside `target` and renames it into place,
 * so `target` never holds a half-written image; the temporary is made 0600 before qemu-img writes
 * into it. Returns what qemu-img reads back.
 */
export async function convertToQcow2(options: ConvertToQcow2Options, ctx: StepScope): Promise<QemuImageInfo> {
  const target = path.resolve(options.target);
  const replaces = await refuseExisting(target, options.overwrite);
  await makeParents(path.dirname(target), ctx);
  const temp = temporaryName(target);
  const intent = ctx.undo.expect(imageUndoDescription(temp), { kind: 'file', path: temp });
  await createPrivateFile(temp);
  try {
    await convertImage(convertOptions(options, temp), { sink: ctx.sink, signal: ctx.signal });
  } catch (error) {
    await removeStray(temp);
    intent.cancel();
    if (isNoSpaceError(error)) throw await noSpaceError(target, error);
    throw error;
  }
  const made = await lstat(temp);
  intent.made({ kind: 'file', path: temp, ...identityOf(made) });
  ctx.undo.push(imageUndoDescription(temp), () => removeIfSame(temp, made.dev, made.ino), intent);
  const info = await readImageInfo(temp, { sink: ctx.sink });
  // Journaled before the rename: a run killed right after it must not leave the new image.
  const result = replaces
    ? undefined
    : ctx.undo.expect(imageUndoDescription(target), {
        kind: 'file',
        path: target,
        ...identityOf(made),
      });
  await rename(temp, target);
  ctx.undo.release(imageUndoDescription(temp));
  // A replaced image is gone once renamed over; the new one is then the result and is kept.
  if (result)
    ctx.undo.push(imageUndoDescription(target), () => removeIfSame(target, made.dev, made.ino), result);
  return { ...info, filename: target };
}

function convertOptions(options: ConvertToQcow2Options, target: string): Parameters<typeof convertArgv>[0] {
  return {
    source: options.source,
    sourceFormat: 'raw',
    target,
    targetFormat: 'qcow2',
    preallocation: options.allocation === 'full' ? 'falloc' : undefined,
  };
}

/** Throws E_EXISTS unless `target` is absent or may be replaced; returns whether it exists. */
async function refuseExisting(target: string, overwrite: boolean | undefined): Promise<boolean> {
  const exists = await lstat(target).then(
    () => true,
    () => false,
  );
  if (exists && !overwrite) {
    throw runtimeError(
      'E_EXISTS',
      `${target} already exists`,
      'remove it first, or pass --force to replace it',
    );
  }
  return exists;
}

/** Removes the temporary file a failed qemu-img may have left (a name only we use). */
async function removeStray(temp: string): Promise<void> {
  await rm(temp, { force: true });
}

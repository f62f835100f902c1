/** Putting files in place as plan steps: atomically, with undo that restores what was there. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StepContext } from './plan.js';

function hiddenName(file: string, tag: string): string {
  return path.join(
    path.dirname(file),
    `.${path.basename(file)}.xenkit-${tag}-${randomBytes(4).toString('hex')}`,
  );
}

/**
 * Renames the finished file `source` over `dest`. Whatever `dest` held before is kept aside (a hard
 * link under a hidden name) until the plan commits, so unwinding puts it back; with nothing there
 * before, unwinding removes the new file.
 */
export async function moveIntoPlace(
  source: string,
  dest: string,
  ctx: Pick<StepContext, 'undo'>,
): Promise<void> {
  const backup = hiddenName(dest, 'old');
  let hadOld = false;
  try {
    await fs.link(dest, backup);
    hadOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  try {
    await fs.rename(source, dest);
  } catch (error) {
    if (hadOld) await fs.rm(backup, { force: true });
    throw error;
  }
  ctx.undo.push(`restore ${dest}`, async () => {
    if (hadOld) await fs.rename(backup, dest);
    else await fs.rm(dest, { force: true });
  });
  // The previous file is only needed until the plan commits.
  if (hadOld) ctx.undo.afterCommit(`drop the old ${dest}`, () => fs.rm(backup, { force: true }));
}

/** Writes `content` to `file` through a temporary file and `moveIntoPlace`. */
export async function writeFileAtomically(
  file: string,
  content: string,
  mode: number,
  ctx: Pick<StepContext, 'undo'>,
): Promise<void> {
  const temp = hiddenName(file, 'new');
  await fs.writeFile(temp, content, { mode, flag: 'wx' });
  try {
    await fs.chmod(temp, mode);
    await moveIntoPlace(temp, file, ctx);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

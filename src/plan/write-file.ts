/** Writing a file as one step of a plan: atomically, with an undo that restores what was there. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StepContext } from './plan.js';

/**
 * Writes `content` to `file` through a temporary file and a rename. The undo puts back the
 * previous file (kept aside under a hidden name until the plan commits) or removes the new one.
 */
export async function writeFileAtomically(
  file: string,
  content: string,
  mode: number,
  ctx: Pick<StepContext, 'undo'>,
): Promise<void> {
  const suffix = randomBytes(4).toString('hex');
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.xenkit-new-${suffix}`);
  const backup = path.join(path.dirname(file), `.${path.basename(file)}.xenkit-old-${suffix}`);
  await fs.writeFile(temp, content, { mode, flag: 'wx' });
  await fs.chmod(temp, mode);
  let hadOld = false;
  try {
    await fs.link(file, backup);
    hadOld = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }
  await fs.rename(temp, file);
  ctx.undo.push(`restore ${file}`, async () => {
    if (hadOld) await fs.rename(backup, file);
    else await fs.rm(file, { force: true });
  });
  // The previous file is only needed until the plan commits.
  if (hadOld) ctx.undo.afterCommit(`drop the old ${file}`, () => fs.rm(backup, { force: true }));
}

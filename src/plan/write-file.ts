/** Putting files in place as plan steps: atomically, with undo that restores what was there. */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { StepContext } from './plan.js';
import { identityOf } from './run-journal.js';

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
  const made = await fs.stat(source);
  const renamed = { kind: 'rename', original: dest, aside: backup, ...identityOf(made) } as const;
  // Journaled first: a run killed from here on gets the old file put back (or the new one removed).
  const intent = ctx.undo.expect(`restore ${dest}`, { ...renamed, hadOriginal: false });
  let hadOld = false;
  let old: Stats | undefined;
  try {
    await fs.link(dest, backup);
    hadOld = true;
    old = await fs.stat(backup);
    intent.made({ ...renamed, hadOriginal: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      intent.cancel();
      throw error;
    }
  }
  try {
    await fs.rename(source, dest);
  } catch (error) {
    if (hadOld) await fs.rm(backup, { force: true });
    intent.cancel();
    throw error;
  }
  ctx.undo.push(
    `restore ${dest}`,
    async () => {
      if (hadOld) await fs.rename(backup, dest);
      else await fs.rm(dest, { force: true });
    },
    intent,
  );
  // The previous file is only needed until the plan commits; journaled so that a run killed
  // after its commit still gets its old copy dropped by the next one.
  if (hadOld && old) {
    ctx.undo.afterCommit(`drop the old ${dest}`, () => fs.rm(backup, { force: true }), {
      kind: 'file',
      path: backup,
      ...identityOf(old),
    });
  }
}

/** Writes `content` to `file` through a temporary file and `moveIntoPlace`. */
export async function writeFileAtomically(
  file: string,
  content: string,
  mode: number,
  ctx: Pick<StepContext, 'undo'>,
): Promise<void> {
  const temp = hiddenName(file, 'new');
  const intent = ctx.undo.expect(`remove ${temp}`, { kind: 'file', path: temp });
  try {
    await fs.writeFile(temp, content, { mode, flag: 'wx' });
  } catch (error) {
    intent.cancel();
    throw error;
  }
  try {
    await fs.chmod(temp, mode);
    await moveIntoPlace(temp, file, ctx);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  } finally {
    // Renamed into place (journaled by moveIntoPlace) or removed: the name is gone either way.
    intent.cancel();
  }
}

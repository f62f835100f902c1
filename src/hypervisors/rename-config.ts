/**
 * The files `xm rename` moves for a guest: `/etc/xen/OLD.cfg` to `NEW.cfg` with its `name`
 * line changed, and the autostart link `/etc/xen/auto/OLD.cfg` to `auto/NEW.cfg`. Never over an
 * existing file; each move can be undone. Images, the creation log and the guest's own hostname
 * keep the old name.
 */
import {
  lstatSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { usageError } from '../errors.js';
import type { Paths } from '../paths.js';
import { autostartLinkFor, cfgPathFor } from './autostart.js';

/** What rename found for the old name. */
export interface RenamePlan {
  oldCfg: string | undefined;
  newCfg: string;
  oldLink: string | undefined;
  newLink: string;
}

const NAME_LINE = /^(\s*name\s*=\s*)(["'])([^"'\n]*)\2/m;

/** The cfg text with its `name = 'OLD'` line naming `newName`; refuses a cfg naming another guest. */
export function renameCfgText(text: string, oldName: string, newName: string, file: string): string {
  const match = NAME_LINE.exec(text);
  if (!match || match[3] !== oldName) {
    throw usageError(
      'E_RENAME',
      `${file} has no line name = '${oldName}'`,
      'fix its name line by hand, or rename a guest whose cfg names it',
    );
  }
  return text.replace(NAME_LINE, `$1$2${newName}$2`);
}

function present(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Checks that nothing of `newName` exists and collects the files of `oldName` (not touching any). */
export function planRename(paths: Paths, oldName: string, newName: string): RenamePlan {
  const newCfg = cfgPathFor(paths, newName);
  const newLink = autostartLinkFor(paths, newName);
  for (const file of [newCfg, newLink]) {
    if (present(file)) {
      throw usageError(
        'E_RENAME',
        `${file} exists: the name "${newName}" is taken`,
        'choose a name no guest has',
      );
    }
  }
  const oldCfg = cfgPathFor(paths, oldName);
  const oldLink = autostartLinkFor(paths, oldName);
  let linked: boolean;
  try {
    linked =
      lstatSync(oldLink).isSymbolicLink() && path.resolve(paths.autoDir, readlinkSync(oldLink)) === oldCfg;
  } catch {
    linked = false;
  }
  return {
    oldCfg: present(oldCfg) ? oldCfg : undefined,
    newCfg,
    oldLink: linked ? oldLink : undefined,
    newLink,
  };
}

/** Moves the cfg (renamed inside) and the autostart link; returns the undo. */
export function moveGuestFiles(plan: RenamePlan, oldName: string, newName: string): () => void {
  const undo: (() => void)[] = [];
  const rollback = (): void => {
    for (const step of undo.reverse()) step();
  };
  try {
    if (plan.oldCfg) {
      const oldCfg = plan.oldCfg;
      const text = readFileSync(oldCfg, 'utf8');
      writeFileSync(plan.newCfg, renameCfgText(text, oldName, newName, oldCfg), {
        flag: 'wx',
        mode: statSync(oldCfg).mode & 0o777,
      });
      undo.push(() => unlinkSync(plan.newCfg));
      unlinkSync(oldCfg);
      undo.push(() => writeFileSync(oldCfg, text, { flag: 'wx' }));
    }
    if (plan.oldLink) {
      const oldLink = plan.oldLink;
      const target = readlinkSync(oldLink);
      symlinkSync(path.relative(path.dirname(plan.newLink), plan.newCfg), plan.newLink);
      undo.push(() => unlinkSync(plan.newLink));
      unlinkSync(oldLink);
      undo.push(() => symlinkSync(target, oldLink));
    }
  } catch (error) {
    rollback();
    throw error;
  }
  return rollback;
}

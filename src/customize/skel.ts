/**
 * The admin's skeleton: every file under /etc/xen-tools/skel copied to the same place in the
 * guest (xen-tools' 65-copy-user-files), with its mode and owner. Directories the guest already
 * has keep their own mode and owner; only what the skeleton adds is created.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PlanAction } from '../plan/plan.js';
import type { CustomizeContext } from './types.js';

/** What the step does. */
export function describeSkel(skelDir: string | undefined): PlanAction[] {
  if (skelDir === undefined) return [];
  return [{ kind: 'note', text: `copy the files under ${skelDir} to the same paths in the guest` }];
}

/** Copies the skeleton into the tree through the editor (so a failed run takes it back). */
export async function applySkel(c: CustomizeContext): Promise<void> {
  const skel = c.spec.hooks.skelDir;
  if (skel === undefined || !fs.existsSync(skel)) return;
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(skel, rel)).sort()) {
      const guestPath = `/${path.posix.join(rel, name)}`;
      const source = path.join(skel, rel, name);
      const st = fs.lstatSync(source);
      const owner = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isSymbolicLink()) c.editor.symlink(guestPath, fs.readlinkSync(source));
      else if (st.isDirectory()) {
        c.editor.mkdir(guestPath, owner);
        walk(path.join(rel, name));
      } else if (st.isFile()) c.editor.writeFile(guestPath, fs.readFileSync(source), owner);
      else
        c.step.sink({ type: 'warn', message: `skel: ${source} is not a file, directory or link; skipped` });
    }
  };
  walk('');
}

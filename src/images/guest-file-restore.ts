/**
 * Files a run replaces inside a guest's filesystem for a while (update-image's policy-rc.d and
 * resolv.conf): what each held before goes into the run journal, so that after a SIGKILL the
 * next run or `xenkit doctor` mounts the image afresh and puts them back. A file is put back only
 * while it still holds what the run wrote; one changed since (apt replaced it) is left as it is.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { TreeEditor } from '../customize/tree-editor.js';
import { silentSink, type EventSink } from '../log/events.js';
import type { StepScope } from '../plan/plan.js';
import { activeJournal, type Debris, type SavedGuestFile } from '../plan/run-journal.js';
import { UndoStack } from '../plan/undo-stack.js';
import { describeHolder, findImageHolders } from './image-holders.js';
import { closeRawView, mountTree, openRawView, unmountTree } from './image-access.js';

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function lstatOf(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

/** What `guestPath` holds now in the tree `editor` edits, and the hash of `data` about to replace it. */
export function saveGuestFile(editor: TreeEditor, guestPath: string, data: string | Buffer): SavedGuestFile {
  const hostPath = editor.hostPath(guestPath);
  const st = lstatOf(hostPath);
  const wrote = sha256(data);
  if (!st) return { path: guestPath, before: { kind: 'absent' }, wrote };
  if (st.isSymbolicLink()) {
    return { path: guestPath, before: { kind: 'symlink', target: fs.readlinkSync(hostPath) }, wrote };
  }
  const base64 = fs.readFileSync(hostPath).toString('base64');
  const before = { kind: 'file' as const, base64, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  return { path: guestPath, before, wrote };
}

/** Whether the file at `hostPath` is a regular file holding the data whose hash is `wrote`. */
function holds(hostPath: string, wrote: string): boolean {
  const st = lstatOf(hostPath);
  return st?.isFile() === true && sha256(fs.readFileSync(hostPath)) === wrote;
}

/** Whether `hostPath` is what it was before the run. */
function isAsBefore(hostPath: string, before: SavedGuestFile['before']): boolean {
  const st = lstatOf(hostPath);
  if (before.kind === 'absent') return !st;
  if (before.kind === 'symlink')
    return st?.isSymbolicLink() === true && fs.readlinkSync(hostPath) === before.target;
  return holds(hostPath, sha256(Buffer.from(before.base64, 'base64')));
}

/** Puts `files` back in the tree at `root` where they still hold what the run wrote; one line each. */
export function restoreGuestFilesIn(root: string, files: readonly SavedGuestFile[]): string[] {
  const editor = new TreeEditor(root);
  const lines: string[] = [];
  for (const file of files) {
    const hostPath = editor.hostPath(file.path);
    if (!holds(hostPath, file.wrote)) {
      if (!isAsBefore(hostPath, file.before)) lines.push(`left ${file.path} as it is (changed since)`);
      continue;
    }
    const { before } = file;
    if (before.kind === 'absent') {
      editor.remove(file.path);
      lines.push(`removed ${file.path}`);
    } else if (before.kind === 'symlink') {
      editor.symlink(file.path, before.target);
      lines.push(`put back ${file.path} (-> ${before.target})`);
    } else {
      const { mode, uid, gid } = before;
      editor.writeFile(file.path, Buffer.from(before.base64, 'base64'), { mode, uid, gid });
      lines.push(`put back ${file.path}`);
    }
  }
  return lines;
}

/**
 * Mounts the image of `debris` on its own (read-write; a qcow2 one through a fresh export), puts
 * its files back and unmounts it. Refused while anything else holds the image (a running guest,
 * a loop device, a process): two writers would break the filesystem.
 */
export async function restoreGuestFiles(
  debris: Extract<Debris, { kind: 'guest-files' }>,
  sink: EventSink = silentSink,
): Promise<string | undefined> {
  if (!lstatOf(debris.image)) return undefined;
  const holders = findImageHolders([debris.image]);
  if (holders.length > 0) {
    throw new Error(`${debris.image} is in use (${holders.map(describeHolder).join(', ')})`);
  }
  const undo = new UndoStack();
  // A recovery done by a journaled run is itself journaled: its mounts are undone if it is killed.
  undo.journal = activeJournal();
  const scope: StepScope = { undo, sink, signal: new AbortController().signal };
  try {
    const view = await openRawView(debris.image, debris.format, scope);
    const tree = await mountTree(view.rawPath, scope);
    const lines = restoreGuestFilesIn(tree.dir, debris.files);
    await unmountTree(tree, scope);
    await closeRawView(view, scope);
    return lines.length > 0 ? `${lines.join(', ')} in ${debris.image}` : undefined;
  } catch (error) {
    await undo.unwind(sink);
    throw error;
  }
}

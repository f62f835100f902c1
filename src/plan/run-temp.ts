/**
 * A run's private temporary directory, `TMPROOT/PID-STARTTIME` (0700), made TMPDIR while the plan
 * runs: every mount point, export and host-key directory of the run (and of its children) lands
 * there instead of in a shared /tmp, so a run killed outright leaves them where the next run or
 * `xenkit doctor` finds them, named by the run that made them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { identityOf, type RunJournal } from './run-journal.js';

/** An open run temporary directory. */
export interface RunTemp {
  dir: string;
  /** Restores TMPDIR and removes the directory; false when something is still mounted inside. */
  close(): boolean;
}

/** Whether anything is mounted at or below `dir` (this mount namespace). */
export function hasMountsUnder(dir: string): boolean {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => {
    const point = (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_m, o: string) =>
      String.fromCharCode(parseInt(o, 8)),
    );
    return point === dir || point.startsWith(`${dir}/`);
  });
}

/** Makes the run's temporary directory (journaled first) and points TMPDIR at it. */
export function openRunTemp(tmpRoot: string, journal: RunJournal): RunTemp {
  fs.mkdirSync(tmpRoot, { recursive: true, mode: 0o700 });
  fs.chmodSync(tmpRoot, 0o700);
  const dir = path.join(tmpRoot, journal.runId);
  const id = journal.record(`remove the temporary directory ${dir}`, { kind: 'tree', path: dir });
  fs.mkdirSync(dir, { mode: 0o700 });
  const made = fs.statSync(dir);
  journal.update(id, { kind: 'tree', path: dir, ...identityOf(made) });
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return {
    dir,
    close: () => {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      // Never a recursive removal across a mount that an undo failed to remove: that is a guest's.
      if (hasMountsUnder(dir)) return false;
      try {
        fs.rmSync(dir, { recursive: true, force: true });
      } catch {
        return false;
      }
      journal.drop(id);
      return true;
    },
  };
}

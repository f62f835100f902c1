/**
 * How far a process has read a file: the offset of its open descriptor on that file, from
 * /proc/PID/fdinfo. This is how xenkit shows the progress of a program that reports none (virsh
 * vol-upload): the file is this run's own, so the process holding it open is the one it started.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';

/** The read offset of the first process found with `file` open, or undefined when none has it open. */
export function readFileReadOffset(file: string): number | undefined {
  let target: string;
  try {
    target = realpathSync(file);
  } catch {
    return undefined;
  }
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== target) continue;
        const pos = /^pos:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
        if (pos !== undefined) return Number(pos);
      } catch {
        // Gone or closed meanwhile.
      }
    }
  }
  return undefined;
}

/**
 * Undoing what a dead run's journal records, newest first: its processes stopped (only while pid,
 * start time, boot and program all still match), its mounts, loop devices and files removed.
 * Every path is checked to still be what the record says before it is removed; what never came
 * to exist is skipped. Kinds that need tools (mounts, loop devices, trees, volumes) go through
 * handlers from a higher layer.
 */
import fs from 'node:fs';
import { acquireLock } from './lock-file.js';
import { currentBootId, isSameProcessAlive } from './process-identity.js';
import { daemonPid, stopProcess, stopStrays } from './recover-processes.js';
import {
  isJournalLive,
  listJournals,
  type Debris,
  type FileIdentity,
  type FoundJournal,
  type JournalRecord,
} from './run-journal.js';

/** The tool-backed half of recovery. Each returns what it did, or undefined when nothing was there. */
export interface DebrisHandlers {
  /** Unmounts `dir` if something is mounted there. */
  unmount(dir: string): Promise<string | undefined>;
  /**
   * Detaches loop device `device` if it is still backed by `backingFile`; with no device, every
   * loop on `backingFile` except the `existing` ones.
   */
  detachLoop(
    backingFile: string,
    device: string | undefined,
    existing?: readonly string[],
  ): Promise<string | undefined>;
  /** Stops what runs inside `dir`, unmounts what is below it, removes it (one filesystem only). */
  removeTree(dir: string): Promise<string | undefined>;
  /** Clears the immutable flag of `file` (chattr -i). */
  clearImmutable(file: string): Promise<string | undefined>;
  /** Renames `vg/from` back to `vg/to` if `from` exists and `to` does not. */
  renameVolume(vg: string, from: string, to: string): Promise<string | undefined>;
  /** Removes the logical volume `vg/name` if it exists. */
  removeVolume(vg: string, name: string): Promise<string | undefined>;
  /** Deletes the volume `name` of `pool` on the libvirt host `uri` if it exists. */
  removeLibvirtVolume(uri: string, pool: string, name: string): Promise<string | undefined>;
  /** Undefines domain `name` on the libvirt host `uri` if it exists and is shut off. */
  undefineLibvirtDomain(uri: string, name: string): Promise<string | undefined>;
  /** Gives back the `--ip=auto` address `address` if guest `name` still holds its claim. */
  releaseAddress(address: string, name: string): Promise<string | undefined>;
  /** Puts back the files a run replaced inside a guest image (mounting it afresh). */
  restoreGuestFiles(debris: Extract<Debris, { kind: 'guest-files' }>): Promise<string | undefined>;
}

/** What recovering one journal did (or, for a dry run, would do). */
export interface RecoveryReport {
  journal: string;
  pid: number;
  command: string;
  guests: string[];
  committed: boolean;
  /** One line per thing cleaned (dry run: per thing found). */
  cleaned: string[];
  /** Things that could not be cleaned, with the reason; they stay in the journal. */
  left: string[];
}

export interface RecoverOptions {
  /** Only report what is there; change nothing. */
  dryRun?: boolean;
  /** Only journals naming this guest. */
  guest?: string;
  /** Skip the journal of this file (the caller's own). */
  exclude?: string;
}

/** Journals in `dir` whose run is dead (optionally only those naming `guest`). */
export function deadJournals(dir: string, guest?: string): FoundJournal[] {
  return listJournals(dir).filter(
    (j) => (guest === undefined || j.data.guests.includes(guest)) && !isJournalLive(j.data),
  );
}

/** Recovers every dead journal in `dir` (see recoverJournal); journals being recovered elsewhere are skipped. */
export async function recoverJournals(
  dir: string,
  handlers: DebrisHandlers,
  options: RecoverOptions = {},
): Promise<RecoveryReport[]> {
  const reports: RecoveryReport[] = [];
  for (const found of deadJournals(dir, options.guest)) {
    if (found.file === options.exclude) continue;
    const report = await recoverJournal(found, handlers, options);
    if (report) reports.push(report);
  }
  return reports;
}

/**
 * Undoes the records of the dead run `found` and removes its journal (keeping what could not be
 * undone). Undefined when another process is recovering it right now.
 */
export async function recoverJournal(
  found: FoundJournal,
  handlers: DebrisHandlers,
  options: RecoverOptions = {},
): Promise<RecoveryReport | undefined> {
  const { data } = found;
  const report: RecoveryReport = {
    journal: found.file,
    pid: data.holder.pid,
    command: data.command,
    guests: data.guests,
    committed: data.committed,
    cleaned: [],
    left: [],
  };
  const lock = options.dryRun
    ? undefined
    : await acquireLock(`${found.file}.lock`, `recovery of ${found.file}`).catch(() => null);
  if (lock === null) return undefined;
  try {
    const isSameBoot = data.holder.bootId === currentBootId();
    // Uncommitted: everything it made goes. Committed: only its after-commit clean-ups are due.
    const due = data.records.filter((r) => r.phase === (data.committed ? 'commit' : 'undo'));
    // Newest first, processes included: a cp recorded after the mount it writes into stops
    // before the unmount; a qemu-storage-daemon recorded before the loop and mount on its export
    // stops after them, so what they wrote reaches the image. Files replaced inside a guest's
    // filesystem come last: they are put back through a fresh mount of the image, which is safe
    // only once the run's own mounts, loop devices and export of it are gone.
    const isInImage = (r: JournalRecord): boolean => r.debris.kind === 'guest-files';
    const ordered = [...due].reverse();
    const remaining: JournalRecord[] = [];
    // Children it started but had not recorded yet (killed between spawn and the journal write)
    // are the newest things of the run: stopped before anything else is undone.
    if (isSameBoot) await stopStrays(found, report, options.dryRun === true);
    for (const record of [...ordered.filter((r) => !isInImage(r)), ...ordered.filter(isInImage)]) {
      if (isInImage(record) && remaining.length > 0 && !options.dryRun) {
        report.left.push(`${record.description}: not put back while the run's mounts are not all gone`);
        remaining.push(record);
        continue;
      }
      try {
        const done = await undoDebris(record, data.records, handlers, isSameBoot, options.dryRun === true);
        if (done) report.cleaned.push(done);
      } catch (error) {
        report.left.push(`${record.description}: ${error instanceof Error ? error.message : String(error)}`);
        remaining.push(record);
      }
    }
    if (!options.dryRun) {
      if (remaining.length === 0) {
        fs.rmSync(found.file, { force: true });
      } else {
        const kept = { ...data, records: remaining };
        fs.writeFileSync(`${found.file}.tmp`, `${JSON.stringify(kept)}\n`, { mode: 0o600 });
        fs.renameSync(`${found.file}.tmp`, found.file);
      }
      fs.rmSync(`${found.file}.tmp`, { force: true });
    }
    return report;
  } finally {
    lock?.release();
  }
}

/** Undoes one record; returns what was done, undefined when there was nothing to do. */
async function undoDebris(
  record: JournalRecord,
  all: readonly JournalRecord[],
  handlers: DebrisHandlers,
  isSameBoot: boolean,
  dryRun: boolean,
): Promise<string | undefined> {
  const debris = record.debris;
  switch (debris.kind) {
    case 'process':
      // A pid from another boot is some other process now; mounts and loops died with the boot.
      if (!isSameBoot || !isSameProcessAlive(debris)) return undefined;
      if (dryRun) return `would stop ${debris.argv0} (pid ${debris.pid})`;
      await stopProcess(debris.pid);
      return `stopped ${debris.argv0} (pid ${debris.pid})`;
    case 'daemon': {
      if (!isSameBoot) return undefined;
      // Without its pidfile (gone with the FUSE mount beside it), by the identity recorded at start.
      const known = debris.process && isSameProcessAlive(debris.process) ? debris.process.pid : undefined;
      const pid = daemonPid(debris.pidFile, debris.argv0) ?? known;
      if (pid === undefined) return undefined;
      if (dryRun) return `would stop ${debris.argv0} (pid ${pid})`;
      await stopProcess(pid);
      return `stopped ${debris.argv0} (pid ${pid})`;
    }
    case 'mount':
      if (!isSameBoot) return undefined;
      if (dryRun) return isMountPoint(debris.dir) ? `would unmount ${debris.dir}` : undefined;
      return handlers.unmount(debris.dir);
    case 'loop': {
      if (!isSameBoot) return undefined;
      // Without the device (killed inside losetup, or before its answer was recorded): a loop on
      // a file the run made itself, or on another file one that was not there before it.
      const isOwnFile = isRunDebrisPath(debris.backingFile, all);
      if (!debris.device && !isOwnFile && !debris.existing) return undefined;
      if (dryRun) return `would detach the loop device on ${debris.backingFile}`;
      return handlers.detachLoop(debris.backingFile, debris.device, isOwnFile ? undefined : debris.existing);
    }
    case 'file': {
      if (!isStillMade(debris.path, debris, record.at)) return undefined;
      if (dryRun) return `would remove ${debris.path}`;
      fs.unlinkSync(debris.path);
      return `removed ${debris.path}`;
    }
    case 'dir': {
      if (!isDirectory(debris.path)) return undefined;
      if (dryRun) return `would remove ${debris.path} if empty`;
      try {
        fs.rmdirSync(debris.path);
        return `removed ${debris.path}`;
      } catch {
        return undefined; // not empty: something else lives there now
      }
    }
    case 'tree': {
      const st = statOf(debris.path);
      if (!st || !isSameInode(debris.path, debris)) return undefined;
      if (dryRun) return `would remove ${debris.path}`;
      if (!st.isDirectory()) {
        fs.unlinkSync(debris.path);
        return `removed ${debris.path}`;
      }
      return handlers.removeTree(debris.path);
    }
    case 'lv':
      if (dryRun) return `would remove logical volume ${debris.vg}/${debris.name} if present`;
      return handlers.removeVolume(debris.vg, debris.name);
    case 'libvirt-volume':
      if (dryRun)
        return `would delete volume ${debris.name} of pool ${debris.pool} on ${debris.uri} if present`;
      return handlers.removeLibvirtVolume(debris.uri, debris.pool, debris.name);
    case 'libvirt-domain':
      if (dryRun) return `would undefine domain ${debris.name} on ${debris.uri} if present and shut off`;
      return handlers.undefineLibvirtDomain(debris.uri, debris.name);
    case 'lv-rename':
      if (dryRun) return `would rename ${debris.vg}/${debris.to} back to ${debris.from} if it was renamed`;
      return handlers.renameVolume(debris.vg, debris.to, debris.from);
    case 'rename':
      return putBack(debris, dryRun);
    case 'ip-claim':
      if (dryRun) return `would give back the address ${debris.address} claimed for ${debris.name}`;
      return handlers.releaseAddress(debris.address, debris.name);
    case 'guest-files':
      if (dryRun) {
        const files = debris.files.map((f) => f.path).join(', ');
        return `would put back ${files} in ${debris.image} if they still hold what the run wrote`;
      }
      return handlers.restoreGuestFiles(debris);
    case 'mode': {
      const st = statOf(debris.path);
      if (!st || !isSame(st, debris) || (st.mode & 0o7777) === debris.mode) return undefined;
      if (dryRun) return `would give ${debris.path} its mode ${debris.mode.toString(8)} back`;
      fs.chmodSync(debris.path, debris.mode);
      return `gave ${debris.path} its mode ${debris.mode.toString(8)} back`;
    }
    case 'immutable': {
      if (!isStillMade(debris.path, debris, record.at)) return undefined;
      if (dryRun) return `would clear the immutable flag of ${debris.path}`;
      return handlers.clearImmutable(debris.path);
    }
    case 'size': {
      const st = statOf(debris.path);
      if (!st || st.dev !== debris.dev || st.ino !== debris.ino || st.size <= debris.sizeBytes)
        return undefined;
      if (dryRun) return `would shrink ${debris.path} back to ${debris.sizeBytes} bytes`;
      fs.truncateSync(debris.path, debris.sizeBytes);
      return `shrank ${debris.path} back to ${debris.sizeBytes} bytes`;
    }
  }
}

/** A replaced file: the old one goes back from its aside name; a file that was new is removed. */
function putBack(debris: Extract<Debris, { kind: 'rename' }>, dryRun: boolean): string | undefined {
  if (statOf(debris.aside)) {
    if (dryRun) return `would put the old ${debris.original} back`;
    fs.renameSync(debris.aside, debris.original);
    return `put the old ${debris.original} back`;
  }
  if (debris.hadOriginal || debris.ino === undefined || !isSameInode(debris.original, debris))
    return undefined;
  if (dryRun) return `would remove ${debris.original}`;
  fs.unlinkSync(debris.original);
  return `removed ${debris.original}`;
}

/**
 * Whether `file` is still the file the run made: the same inode when the record has one; a file
 * recorded before it was made (the run died making it) only if it was born after the record.
 */
function isStillMade(file: string, id: FileIdentity, at: number): boolean {
  const st = statOf(file);
  if (!st || st.isDirectory()) return false;
  if (id.ino !== undefined) return isSame(st, id);
  const born = st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs;
  // Timestamps of some filesystems are coarser than the clock: a second of slack.
  return born >= at - 1000;
}

/** Same device and inode, and the same birth where the filesystem records one (inodes are reused). */
function isSame(st: fs.Stats, id: FileIdentity): boolean {
  if (st.dev !== id.dev || st.ino !== id.ino) return false;
  return !id.born || !st.birthtimeMs || st.birthtimeMs === id.born;
}

function isSameInode(file: string, id: FileIdentity): boolean {
  if (id.ino === undefined) return true;
  const st = statOf(file);
  return st !== undefined && isSame(st, id);
}

/** Whether `file` is one the run recorded as its own, or lies inside a tree it recorded. */
function isRunDebrisPath(file: string, all: readonly JournalRecord[]): boolean {
  return all.some((r) => {
    const d = r.debris;
    if (d.kind === 'file') return d.path === file;
    if (d.kind === 'tree') return file.startsWith(`${d.path}/`);
    return false;
  });
}

function statOf(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

function isDirectory(dir: string): boolean {
  return statOf(dir)?.isDirectory() === true;
}

function isMountPoint(dir: string): boolean {
  try {
    return fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === dir);
  } catch {
    return false;
  }
}

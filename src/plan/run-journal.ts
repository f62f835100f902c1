/**
 * The run journal: while a command changes a guest, a file that says what the run is about to make
 * (intent first, then its identity once made), so that after a SIGKILL the next run can find and
 * remove exactly the leftovers of the dead one. The undo stack's closures die with the process; the
 * journal does not. It lives in persistent state (files a run makes survive a reboot; its mounts,
 * loop devices and processes do not, and recovery knows that from the boot id).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  identifyProcess,
  isSameProcessAlive,
  selfIdentity,
  type ProcessIdentity,
} from './process-identity.js';

/** Which file a path must still be: device, inode and (where the filesystem keeps it) birth time. */
export interface FileIdentity {
  dev?: number;
  ino?: number;
  /** Birth time in ms: an inode number is reused as soon as the file is gone. */
  born?: number;
}

/** The identity of the file `st` describes. */
export function identityOf(st: { dev: number; ino: number; birthtimeMs: number }): Required<FileIdentity> {
  return { dev: st.dev, ino: st.ino, born: st.birthtimeMs };
}

/** A thing a run makes, as recovery needs to find and remove it. */
export type Debris =
  /** A file the run created (dev/ino once it exists: removed only while it is still that file). */
  | ({ kind: 'file'; path: string } & FileIdentity)
  /** A directory the run created; removed only if empty. */
  | { kind: 'dir'; path: string }
  /** A directory the run created and filled; mounts below it are removed, then the tree. */
  | ({ kind: 'tree'; path: string } & FileIdentity)
  /** A filesystem mounted on `dir`. */
  | { kind: 'mount'; dir: string }
  /**
   * A loop device on `backingFile` (`device` once known). `existing`: the loops on it before the
   * run attached one; a run killed after losetup attached but before `device` was recorded left
   * the one loop on it that is not among these.
   */
  | { kind: 'loop'; backingFile: string; device?: string; existing?: string[] }
  /** A helper process (cp, qemu-storage-daemon...), killed only if its identity still matches. */
  | ({ kind: 'process' } & ProcessIdentity)
  /**
   * A daemon that writes its pid to `pidFile` (qemu-storage-daemon --pidfile): recorded before
   * it starts, since the pid is known only once it has forked; stopped only if its command line
   * names this very pidfile. Once it runs, its identity too: a daemon whose pidfile went away with
   * the FUSE mount beside it is still found, and stopped only while pid, start time and program match.
   */
  | { kind: 'daemon'; pidFile: string; argv0: string; process?: ProcessIdentity }
  /** An `--ip=auto` address the run claimed for guest `name` (its `ADDRESS NAME` line in ips.used). */
  | { kind: 'ip-claim'; address: string; name: string }
  /**
   * Files the run replaced inside the filesystem of a guest image, with what each held before:
   * put back (through a fresh mount, once the run's own mounts are gone) while they still hold
   * what the run wrote.
   */
  | { kind: 'guest-files'; image: string; format: string; files: SavedGuestFile[] }
  /** A logical volume the run created. */
  | { kind: 'lv'; vg: string; name: string }
  /** A storage volume the run created in `pool` of the libvirt host `uri` (a remote create). */
  | { kind: 'libvirt-volume'; uri: string; pool: string; name: string }
  /** A domain the run defined on the libvirt host `uri`; undefined again only while it is shut off. */
  | { kind: 'libvirt-domain'; uri: string; name: string }
  /** A logical volume the run renamed from `from` to `to` (undo: back, if `from` is free). */
  | { kind: 'lv-rename'; vg: string; from: string; to: string }
  /**
   * `original` was replaced: what it held is kept at `aside` (a hard link) until commit. Undo
   * puts `aside` back; with nothing there before, it removes the new file (dev/ino) at `original`.
   */
  | ({ kind: 'rename'; original: string; aside: string; hadOriginal: boolean } & FileIdentity)
  /** A file whose mode was `mode` before the run changed it (a linked clone's base image). */
  | ({ kind: 'mode'; path: string; mode: number } & FileIdentity)
  /** A file the run made immutable (chattr +i). */
  | ({ kind: 'immutable'; path: string } & FileIdentity)
  /** A raw image file grown from `sizeBytes` (shrunk back only while it is still that file). */
  | ({ kind: 'size'; path: string; sizeBytes: number } & FileIdentity);

/** A file inside a guest's filesystem as it was before a run replaced it. */
export interface SavedGuestFile {
  /** The path inside the guest (`/etc/resolv.conf`). */
  path: string;
  before:
    | { kind: 'absent' }
    | { kind: 'file'; base64: string; mode: number; uid: number; gid: number }
    | { kind: 'symlink'; target: string };
  /** SHA-256 (hex) of what the run wrote there: put back only while the file still holds that. */
  wrote: string;
}

/** One entry of a journal. */
export interface JournalRecord {
  id: number;
  /** ms since the epoch when it was recorded (before the thing was made). */
  at: number;
  /** `undo`: removed when the run does not commit; `commit`: clean-up due once it has committed. */
  phase: 'undo' | 'commit';
  description: string;
  debris: Debris;
}

/** The journal file's content. */
export interface JournalData {
  format: 1;
  holder: ProcessIdentity;
  /** What ran, e.g. `create-image web1`. */
  command: string;
  /** The guests whose locks the run holds. */
  guests: string[];
  committed: boolean;
  records: JournalRecord[];
}

/** The journal of this process's running plan, for records made far from a StepContext (exec). */
let active: RunJournal | undefined;

/** The journal of the plan this process runs now, if any. */
export function activeJournal(): RunJournal | undefined {
  return active;
}

/** Makes `journal` the one `activeJournal` returns (undefined: none). */
export function setActiveJournal(journal: RunJournal | undefined): void {
  active = journal;
}

/** The environment variable that marks every child of a journaled run with the run's id. */
export const RUN_MARKER_VARIABLE = 'XENKIT_RUN';

/**
 * The marker for the environment of a child of the running plan (empty when none journals). A
 * child is recorded only once spawn() has returned, and it runs before that: a run killed in
 * between leaves it unrecorded, and recovery finds it by this mark (inherited through exec and by
 * its own children): stopStrays in recover-processes.ts.
 */
export function runMarkerEnv(): Record<string, string> {
  return active ? { [RUN_MARKER_VARIABLE]: active.runId } : {};
}

/**
 * Records a child process of the running plan (if one journals); `thenRuns` names the program a
 * wrapper such as chroot execs. Returns the function that drops the record once the child has exited. Never throws: journaling must not fail a command.
 */
export function trackChild(pid: number | undefined, argv0: string, thenRuns?: string): () => void {
  const journal = active;
  if (!journal || pid === undefined) return () => undefined;
  const who = identifyProcess(pid, argv0);
  if (!who) return () => undefined;
  const id = journal.record(`stop ${argv0} (pid ${pid})`, {
    kind: 'process',
    ...who,
    ...(thenRuns ? { thenRuns } : {}),
  });
  return () => journal.drop(id);
}

/** A run's journal file (`DIR/PID-STARTTIME.json`), rewritten atomically on each change. */
export class RunJournal {
  readonly file: string;
  private readonly data: JournalData;
  private nextId = 1;
  private removed = false;

  constructor(dir: string, command: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const holder = selfIdentity();
    this.file = path.join(dir, `${holder.pid}-${holder.startTime}.json`);
    this.data = { format: 1, holder, command, guests: [], committed: false, records: [] };
    this.write();
  }

  /** The run id (`PID-STARTTIME`), also the name of its temporary directory. */
  get runId(): string {
    return path.basename(this.file, '.json');
  }

  /** Names a guest whose lock the run holds (recovery of that guest finds this journal). */
  addGuest(name: string): void {
    if (this.data.guests.includes(name)) return;
    this.data.guests.push(name);
    this.write();
  }

  /** Records `debris` before it is made; returns the record's id. */
  record(description: string, debris: Debris, phase: JournalRecord['phase'] = 'undo'): number {
    const id = this.nextId++;
    this.data.records.push({ id, at: Date.now(), phase, description, debris });
    this.write();
    return id;
  }

  /** Replaces the debris of record `id` (the identity of what was just made). */
  update(id: number, debris: Debris): void {
    const found = this.data.records.find((r) => r.id === id);
    if (!found) return;
    found.debris = debris;
    this.write();
  }

  /** Drops record `id` (undone, consumed by the normal flow, or never made). */
  drop(id: number): void {
    const at = this.data.records.findIndex((r) => r.id === id);
    if (at < 0) return;
    this.data.records.splice(at, 1);
    this.write();
  }

  /** The run committed: its results stay; only the commit-phase clean-ups remain to do. */
  markCommitted(): void {
    this.data.committed = true;
    this.data.records = this.data.records.filter((r) => r.phase === 'commit');
    this.write();
  }

  /** Records left (oldest first). */
  get records(): readonly JournalRecord[] {
    return this.data.records;
  }

  /** Removes the journal: nothing of the run is left to recover. */
  remove(): void {
    this.removed = true;
    fs.rmSync(this.file, { force: true });
  }

  private write(): void {
    if (this.removed) return;
    const temp = `${this.file}.tmp`;
    try {
      fs.writeFileSync(temp, `${JSON.stringify(this.data)}\n`, { mode: 0o600 });
      fs.renameSync(temp, this.file);
    } catch {
      // A journal that cannot be written costs crash recovery, never the command itself.
    }
  }
}

/** A journal found on disk. */
export interface FoundJournal {
  file: string;
  data: JournalData;
}

/** Every readable journal in `dir` (an unreadable one is skipped: it names nothing to trust). */
export function listJournals(dir: string): FoundJournal[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const found: FoundJournal[] = [];
  for (const name of names.filter((n) => /^\d+-\d+\.json$/.test(n)).sort()) {
    const file = path.join(dir, name);
    try {
      const data = JSON.parse(fs.readFileSync(file, 'utf8')) as JournalData;
      if (data.format === 1 && Array.isArray(data.records) && data.holder) found.push({ file, data });
    } catch {
      // being rewritten (the rename is atomic, so this is a vanished file) or not ours
    }
  }
  return found;
}

/** Whether the run that wrote `data` is still going. */
export function isJournalLive(data: JournalData): boolean {
  return isSameProcessAlive(data.holder);
}

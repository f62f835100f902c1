/** debugfs: edit an unmounted ext2/3/4 filesystem without mounting it. */
import { XenkitError } from '../errors.js';
import { runCommand, type ExecOptions } from './exec.js';

/** Owner and permission bits for the root directory of a filesystem. */
export interface RootInodeAttributes {
  /** Permission bits only (e.g. 0o755); the directory type bits are added here. */
  mode: number;
  uid: number;
  gid: number;
}

/** The argv of debugfs reading its commands from stdin, writable. */
export function debugfsArgv(device: string): string[] {
  return ['debugfs', '-w', '-f', '-', device];
}

/** The debugfs commands (stdin) that set the root inode's mode and owner. */
export function rootInodeCommands(attrs: RootInodeAttributes): string {
  const mode = (0o040000 | (attrs.mode & 0o7777)).toString(8);
  return `sif / mode 0${mode}\nsif / uid ${attrs.uid}\nsif / gid ${attrs.gid}\n`;
}

/**
 * Sets mode and owner of the root directory. `mke2fs -d` (1.47.0) copies the tree's contents but
 * not the attributes of the tree's top directory, so they are set afterwards, still mount-free.
 */
export async function setRootInode(
  device: string,
  attrs: RootInodeAttributes,
  options: ExecOptions = {},
): Promise<void> {
  const result = await runCommand(debugfsArgv(device), { ...options, input: rootInodeCommands(attrs) });
  // debugfs exits 0 even when a command fails; its complaints are the stderr lines after the banner.
  const complaints = debugfsComplaints(result.stderr);
  if (complaints.length > 0) {
    throw new XenkitError(
      'E_DEBUGFS',
      `debugfs could not set the root directory of ${device}: ${complaints[0]}`,
      {
        details: complaints.join('\n'),
      },
    );
  }
}

/** The error lines of debugfs's stderr (everything but its version banner). */
export function debugfsComplaints(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^debugfs \d/.test(line));
}

/**
 * The argv of a read-only debugfs run of one command. Without -w debugfs opens the filesystem
 * read-only; -c (catastrophic mode) does not even read the bitmaps, so a filesystem in use or not
 * cleanly unmounted is still read, and nothing is ever written.
 */
export function debugfsReadArgv(device: string, command: string): string[] {
  return ['debugfs', '-c', '-R', command, device];
}

/** One entry of a directory as `ls -p` prints it. */
export interface DebugfsEntry {
  name: string;
  /** The full st_mode (type and permission bits). */
  mode: number;
  size: number;
}

/** Parses `ls -p` output: `/INODE/MODE/UID/GID/NAME/SIZE/` a line (`.` and `..` left out). */
export function parseDebugfsList(text: string): DebugfsEntry[] {
  const entries: DebugfsEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^\/(\d+)\/([0-7]+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line.trim());
    if (!match || match[3] === '.' || match[3] === '..') continue;
    entries.push({
      name: match[3] as string,
      mode: Number.parseInt(match[2] as string, 8),
      size: Number(match[4] || 0),
    });
  }
  return entries;
}

/** The directory `dir` of an ext2/3/4 filesystem, read-only; undefined when it is not there. */
export async function listDirReadOnly(
  device: string,
  dir: string,
  options: ExecOptions = {},
): Promise<DebugfsEntry[] | undefined> {
  const result = await runCommand(debugfsReadArgv(device, `ls -p ${dir}`), options);
  if (debugfsComplaints(result.stderr).some((l) => l.includes('not found'))) return undefined;
  return parseDebugfsList(result.stdout);
}

/** Copies `file` out of the filesystem to `dest` (a host path), read-only; false when it is missing. */
export async function dumpFileReadOnly(
  device: string,
  file: string,
  dest: string,
  options: ExecOptions = {},
): Promise<boolean> {
  const result = await runCommand(debugfsReadArgv(device, `dump ${file} ${dest}`), options);
  return !debugfsComplaints(result.stderr).some((l) => l.includes('not found'));
}

/** The creation time (crtime, else mtime) of `file` from `stat`, read-only; undefined when missing. */
export async function readBirthTime(
  device: string,
  file: string,
  options: ExecOptions = {},
): Promise<Date | undefined> {
  const result = await runCommand(debugfsReadArgv(device, `stat ${file}`), options);
  return parseBirthTime(result.stdout);
}

/** The crtime (else mtime) of debugfs `stat` output: ` crtime: 0x6b142652:00000000 -- ...`. */
export function parseBirthTime(statText: string): Date | undefined {
  const field = (name: string): Date | undefined => {
    const match = new RegExp(`^\\s*${name}:\\s*0x([0-9a-f]+)(?::([0-9a-f]+))?`, 'im').exec(statText);
    if (!match) return undefined;
    // The extra field's low 2 bits extend the seconds (epoch bits), the rest are nanoseconds.
    const extra = Number.parseInt(match[2] ?? '0', 16);
    const seconds = Number.parseInt(match[1] as string, 16) + (extra & 3) * 2 ** 32;
    return new Date(seconds * 1000 + Math.floor((extra >>> 2) / 1e6));
  };
  return field('crtime') ?? field('mtime');
}

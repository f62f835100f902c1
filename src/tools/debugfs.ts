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

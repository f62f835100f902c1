/** xfs_admin: change an existing XFS filesystem (here: its UUID, after a `make_fs_xfs` override). */
import { runCommand, type ExecOptions } from './exec.js';

/** The argv that sets the UUID of the XFS filesystem on `device`. */
export function setXfsUuidArgv(device: string, uuid: string): string[] {
  return ['xfs_admin', '-U', uuid, device];
}

/** Sets the UUID of the (unmounted) XFS filesystem on `device`. */
export async function setXfsUuid(device: string, uuid: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(setXfsUuidArgv(device, uuid), options);
}

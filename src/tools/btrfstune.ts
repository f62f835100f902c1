/** btrfstune: change an existing btrfs filesystem (here: its UUID, after a `make_fs_btrfs` override). */
import { runCommand, type ExecOptions } from './exec.js';

/** The argv that sets the fsid of the btrfs on `device`; `-f` because btrfstune 6.2 otherwise asks y/N. */
export function setBtrfsUuidArgv(device: string, uuid: string): string[] {
  return ['btrfstune', '-f', '-U', uuid, device];
}

/** Sets the UUID (fsid) of the (unmounted) btrfs filesystem on `device`. */
export async function setBtrfsUuid(device: string, uuid: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(setBtrfsUuidArgv(device, uuid), options);
}

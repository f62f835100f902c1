/** tune2fs: change an existing ext2/3/4 filesystem (here: its UUID, after a `make_fs_*` override). */
import { runCommand, type ExecOptions } from './exec.js';

/** The argv that sets the UUID of the ext filesystem on `device`. */
export function setExtUuidArgv(device: string, uuid: string): string[] {
  return ['tune2fs', '-U', uuid, device];
}

/** Sets the UUID of the (unmounted) ext filesystem on `device`. */
export async function setExtUuid(device: string, uuid: string, options: ExecOptions = {}): Promise<void> {
  await runCommand(setExtUuidArgv(device, uuid), options);
}

/** The argv that gives the ext filesystem on `device` a new UUID and label in one run. */
export function setExtIdentityArgv(device: string, uuid: string, label: string): string[] {
  return ['tune2fs', '-U', uuid, '-L', label, device];
}

/** Sets UUID and label of the (unmounted) ext filesystem on `device`: a copied image's new identity. */
export async function setExtIdentity(
  device: string,
  identity: { uuid: string; label: string },
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(setExtIdentityArgv(device, identity.uuid, identity.label), options);
}

/** After-mkfs adjustments that still need no mount: the UUID (after an override) and the root inode. */
import type { FsType } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import { setBtrfsUuid, setBtrfsUuidArgv } from '../tools/btrfstune.js';
import { setRootInode, type RootInodeAttributes } from '../tools/debugfs.js';
import type { ExecOptions } from '../tools/exec.js';
import { isExtFs } from '../tools/mkfs.js';
import { setExtUuid, setExtUuidArgv } from '../tools/tune2fs.js';
import { setXfsUuid, setXfsUuidArgv } from '../tools/xfs-admin.js';

/** The argv that gives the filesystem on `device` the UUID `uuid`. */
export function describeSetUuid(fs: FsType, device: string, uuid: string): PlanAction[] {
  const argv = isExtFs(fs)
    ? setExtUuidArgv(device, uuid)
    : fs === 'xfs'
      ? setXfsUuidArgv(device, uuid)
      : setBtrfsUuidArgv(device, uuid);
  return [{ kind: 'run', argv }];
}

/** Sets the UUID of an unmounted filesystem (used when a `make_fs_*` override made it). */
export async function setFilesystemUuid(
  fs: FsType,
  device: string,
  uuid: string,
  exec: ExecOptions,
): Promise<void> {
  if (isExtFs(fs)) await setExtUuid(device, uuid, exec);
  else if (fs === 'xfs') await setXfsUuid(device, uuid, exec);
  else await setBtrfsUuid(device, uuid, exec);
}

/** Gives the root directory of a fresh ext filesystem the tree's top-level mode and owner. */
export async function fixRootDirectory(
  device: string,
  root: RootInodeAttributes,
  exec: ExecOptions,
): Promise<void> {
  await setRootInode(device, root, exec);
}

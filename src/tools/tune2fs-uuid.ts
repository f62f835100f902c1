/**
 * tune2fs for clones: a new UUID that keeps the checksum seed, and the feature list. (Kept apart
 * from tune2fs.ts, which the create-image path owns.)
 */
import { runCommand, type ExecOptions } from './exec.js';

/**
 * The argv that sets a new UUID without rewriting every metadata checksum: with `metadata_csum`,
 * the `metadata_csum_seed` feature keeps the checksum seed of the old UUID, so only the superblock
 * changes (10 ms instead of an e2fsck -f and a rewrite of all inode tables). Kernels since 4.4
 * and e2fsprogs read it; GRUB before 2.12 does not, so guests booted by GRUB use `tune2fs -U`.
 */
export function setExtUuidKeepingSeedArgv(device: string, uuid: string): string[] {
  return ['tune2fs', '-O', 'metadata_csum_seed', '-U', uuid, device];
}

/** Sets the UUID of an unmounted ext4 with metadata_csum by keeping the old checksum seed. */
export async function setExtUuidKeepingSeed(
  device: string,
  uuid: string,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(setExtUuidKeepingSeedArgv(device, uuid), options);
}

/** The argv that lists the superblock of `device` (`tune2fs -l`). */
export function listExtSuperblockArgv(device: string): string[] {
  return ['tune2fs', '-l', device];
}

/** Parses the `Filesystem features:` line of `tune2fs -l` output. */
export function parseExtFeatures(text: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith('Filesystem features:'));
  return (line?.slice('Filesystem features:'.length).trim().split(/\s+/) ?? []).filter(Boolean);
}

/** The feature names of the ext filesystem on `device`. */
export async function readExtFeatures(device: string, options: ExecOptions = {}): Promise<string[]> {
  return parseExtFeatures((await runCommand(listExtSuperblockArgv(device), options)).stdout);
}

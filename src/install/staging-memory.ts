/**
 * Where the guest's root tree is staged before mkfs copies it into the image: in memory (a tmpfs
 * mounted for this run only) or on the disk beside the images. An installer unpacks tens of
 * thousands of files that live only until mkfs has copied them; in memory none of them is written
 * to the disk, and removing the tree is one unmount instead of a walk over every file (on a busy
 * host, 8.7 s to remove 3,258 files from ext4 against 0.13 s from tmpfs). The tmpfs is bounded
 * by the size of the guest's filesystems (the tree has to fit into them anyway) plus room for the
 * downloaded packages.
 *
 * `staging = auto` (the default) takes memory only where it is safe and pays: a package install
 * (debootstrap, mmdebstrap; copy and tar keep whatever xattrs their source has, and tmpfs before
 * Linux 6.6 has no user.* xattrs), a tree that is not built inside the cached image itself, and
 * filesystems that fit into half the memory the host has available. `memory` and `disk` force it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { InstallMethod } from '../model/guest-spec.js';
import { runCommand, type ExecOptions } from '../tools/exec.js';
import { mountArgv } from '../tools/mount.js';

export const STAGING_CHOICES = ['auto', 'memory', 'disk'] as const;
export type StagingChoice = (typeof STAGING_CHOICES)[number];

export interface StagingFacts {
  choice: StagingChoice;
  method: InstallMethod;
  /** Whether the tree is installed straight into the cached image mounted on the staging path. */
  intoImage: boolean;
  /** Bytes of every filesystem the tree goes into. */
  filesystemBytes: number;
  /** The host's MemAvailable in bytes (undefined: unknown, which keeps auto on the disk). */
  memAvailable: number | undefined;
}

export interface StagingDecision {
  inMemory: boolean;
  /** The tmpfs size in bytes, when in memory. */
  sizeBytes: number;
  reason: string;
}

const MiB = 1024 * 1024;

/**
 * Room on top of the filesystems for what the tree holds only while it is installed: the
 * downloaded packages in its apt archive (about 130 MiB for the Quick start guest).
 */
const DOWNLOAD_ROOM = 512 * MiB;

/** Decides where the tree is staged, and says why (shown in --dry-run and the log). */
export function chooseStaging(facts: StagingFacts): StagingDecision {
  const sizeBytes = Math.ceil(facts.filesystemBytes / MiB) * MiB + DOWNLOAD_ROOM;
  const onDisk = (reason: string): StagingDecision => ({ inMemory: false, sizeBytes: 0, reason });
  if (facts.intoImage) return onDisk('the tree is installed into the cached image itself');
  if (facts.choice === 'disk') return onDisk('staging = disk');
  if (facts.choice === 'memory') return { inMemory: true, sizeBytes, reason: 'staging = memory' };
  if (facts.method !== 'mmdebstrap' && facts.method !== 'debootstrap')
    return onDisk(`--install-method=${facts.method} keeps its source's extended attributes`);
  if (facts.memAvailable === undefined) return onDisk('the available memory is unknown');
  if (sizeBytes > facts.memAvailable / 2) {
    const gib = (bytes: number): string => `${(bytes / 1024 / MiB).toFixed(1)} GiB`;
    return onDisk(`${gib(sizeBytes)} of filesystems exceed half the available ${gib(facts.memAvailable)}`);
  }
  return { inMemory: true, sizeBytes, reason: 'the filesystems fit into half the available memory' };
}

/** MemAvailable from /proc/meminfo text, in bytes. */
export function parseMemAvailable(text: string): number | undefined {
  const match = /^MemAvailable:\s+(\d+) kB$/m.exec(text);
  return match ? Number(match[1]) * 1024 : undefined;
}

/** The host's MemAvailable in bytes, or undefined where /proc/meminfo cannot be read. */
export function readMemAvailable(file = '/proc/meminfo'): number | undefined {
  try {
    return parseMemAvailable(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The directory the tmpfs is mounted on, inside the run's 0700 staging box. */
export function memoryStagingDir(stagingBox: string): string {
  return path.join(stagingBox, 'mem');
}

/** The mount command line of the staging tmpfs: bounded, its root mode 0700 like the box around it. */
export function mountStagingArgv(dir: string, sizeBytes: number): string[] {
  return mountArgv('xenkit-staging', dir, {
    fsType: 'tmpfs',
    options: [`size=${Math.ceil(sizeBytes / MiB)}m`, 'mode=0700'],
  });
}

/** Mounts the staging tmpfs; it is unmounted with the box (releaseTarget), by the run or by recovery. */
export async function mountStagingTmpfs(
  dir: string,
  sizeBytes: number,
  exec: ExecOptions = {},
): Promise<void> {
  await runCommand(mountStagingArgv(dir, sizeBytes), exec);
}

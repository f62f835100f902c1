/** mkfs.ext2/3/4, mkfs.xfs, mkfs.btrfs and mkswap: argv builders, version probes and runners. */
import type { FsType } from '../model/guest-spec.js';
import { runCommand, type ExecOptions } from './exec.js';

export interface MkfsArgvOptions {
  fs: FsType;
  /** Image file or block device. */
  device: string;
  uuid?: string | undefined;
  label?: string | undefined;
  /** Populate from this directory while formatting (ext: `-d`, btrfs: `--rootdir`); xfs cannot. */
  rootDir?: string | undefined;
  /** A `make_fs_<fs>` override from xen-tools.conf: used as is, with the device appended. */
  command?: readonly string[] | undefined;
  /** ext only: `-b`, the block size in bytes (mke2fs picks 1024 below 512 MiB otherwise). */
  blockSize?: number | undefined;
}

/** The mkfs program xen-tools uses for each filesystem (`make_fs_<fs>` defaults). */
export const MKFS_PROGRAM: Record<FsType, string> = {
  ext2: 'mkfs.ext2',
  ext3: 'mkfs.ext3',
  ext4: 'mkfs.ext4',
  xfs: 'mkfs.xfs',
  btrfs: 'mkfs.btrfs',
};

/** Whether `fs` is one of the e2fsprogs filesystems. */
export function isExtFs(fs: FsType): fs is 'ext2' | 'ext3' | 'ext4' {
  return fs === 'ext2' || fs === 'ext3' || fs === 'ext4';
}

/**
 * The mkfs argv. Every variant forces (`-F`/`-f`): the target is an image we just created or a
 * device `prepareDevice` vetted, and mkfs would otherwise stop to ask about an existing signature.
 */
export function mkfsArgv(options: MkfsArgvOptions): string[] {
  const { fs, device, uuid, label, rootDir, command, blockSize } = options;
  if (command && command.length > 0) return [...command, device];
  const program = MKFS_PROGRAM[fs];
  if (isExtFs(fs)) {
    return [
      program,
      '-F',
      ...(blockSize ? ['-b', String(blockSize)] : []),
      ...(uuid ? ['-U', uuid] : []),
      ...(label ? ['-L', label] : []),
      ...(rootDir ? ['-d', rootDir] : []),
      device,
    ];
  }
  if (fs === 'xfs') {
    return [program, '-f', ...(uuid ? ['-m', `uuid=${uuid}`] : []), ...(label ? ['-L', label] : []), device];
  }
  return [
    program,
    '-f',
    ...(uuid ? ['-U', uuid] : []),
    ...(label ? ['-L', label] : []),
    ...(rootDir ? ['--rootdir', rootDir] : []),
    device,
  ];
}

/** Runs mkfs as described by `options`. */
export async function makeFs(options: MkfsArgvOptions, exec: ExecOptions = {}): Promise<void> {
  await runCommand(mkfsArgv(options), exec);
}

/** The mkswap argv. */
export function mkswapArgv(device: string, uuid?: string, label?: string): string[] {
  return ['mkswap', ...(uuid ? ['-U', uuid] : []), ...(label ? ['-L', label] : []), device];
}

/** Writes a swap signature on `device`. */
export async function makeSwapSignature(
  device: string,
  uuid?: string,
  label?: string,
  exec: ExecOptions = {},
): Promise<void> {
  await runCommand(mkswapArgv(device, uuid, label), exec);
}

/** A dotted version as numbers: `1.47.0` -> [1, 47, 0]. */
export type Version = number[];

/** Reads the e2fsprogs version from `mke2fs -V` output (`mke2fs 1.47.0 (5-Feb-2023)`). */
export function parseE2fsprogsVersion(text: string): Version | undefined {
  const match = /mke2fs (\d+(?:\.\d+)+)/.exec(text);
  return match?.[1] ? match[1].split('.').map(Number) : undefined;
}

/** Compares two versions: negative, zero or positive like a sort comparator. */
export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/**
 * `mke2fs -d` appeared in e2fsprogs 1.43, which already copies hard links, xattrs, device nodes,
 * fifos and holes; older versions need the mount-and-copy path.
 */
export const E2FSPROGS_POPULATE_MIN: Version = [1, 43];

/** The installed e2fsprogs version, or undefined when mke2fs is missing or unreadable. */
export async function readE2fsprogsVersion(exec: ExecOptions = {}): Promise<Version | undefined> {
  try {
    const result = await runCommand(['mke2fs', '-V'], { ...exec, allowFailure: true });
    return parseE2fsprogsVersion(`${result.stdout}\n${result.stderr}`);
  } catch {
    return undefined;
  }
}

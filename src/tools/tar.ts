/** Typed wrapper for GNU tar: root-tree archives that keep owners, modes, xattrs and ACLs. */
import { open } from 'node:fs/promises';
import { runCommand, type ExecResult } from './exec.js';
import type { RunToolOptions } from './mmdebstrap.js';

export type TarCompression = 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2';

/** Magic numbers, because a file's name may lie (`rootfs.tar` that is really gzip). */
const MAGIC: readonly { compression: TarCompression; bytes: number[] }[] = [
  { compression: 'gzip', bytes: [0x1f, 0x8b] },
  { compression: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { compression: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { compression: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
];

/** The compression of an archive, from its first bytes. */
export function detectCompressionFromBytes(head: Uint8Array): TarCompression {
  for (const { compression, bytes } of MAGIC) {
    if (bytes.every((b, i) => head[i] === b)) return compression;
  }
  return 'none';
}

/** The compression of an archive file, read from its first bytes. */
export async function detectCompression(file: string): Promise<TarCompression> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return detectCompressionFromBytes(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** The compression implied by a file name (for creating archives). */
export function compressionForName(file: string): TarCompression {
  if (/\.(tgz|tar\.gz)$/.test(file)) return 'gzip';
  if (/\.(txz|tar\.xz)$/.test(file)) return 'xz';
  if (/\.(tzst|tar\.zst)$/.test(file)) return 'zstd';
  if (/\.(tbz2?|tar\.bz2)$/.test(file)) return 'bzip2';
  return 'none';
}

function compressionFlags(compression: TarCompression): string[] {
  return compression === 'none' ? [] : [`--${compression}`];
}

/** Flags that carry everything a root tree needs beyond data: numeric ids, xattrs, ACLs. */
const METADATA_FLAGS = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--acls'];

/** The exact argv that extracts `archive` into `target` (which must exist). */
export function buildTarExtractArgv(archive: string, target: string, compression: TarCompression): string[] {
  return [
    'tar',
    '--extract',
    '--preserve-permissions',
    '--same-owner',
    ...METADATA_FLAGS,
    ...compressionFlags(compression),
    `--file=${archive}`,
    `--directory=${target}`,
  ];
}

/** The exact argv that archives the tree at `source` into `archive`, excluding `exclude` patterns. */
export function buildTarCreateArgv(
  source: string,
  archive: string,
  compression: TarCompression,
  exclude: readonly string[] = [],
): string[] {
  return [
    'tar',
    '--create',
    ...METADATA_FLAGS,
    '--sparse',
    ...compressionFlags(compression),
    ...exclude.map((pattern) => `--exclude=${pattern}`),
    `--file=${archive}`,
    `--directory=${source}`,
    '.',
  ];
}

/**
 * The argv that archives the files `members` (paths relative to `source`) with their holes kept,
 * and no directory entries: extracting it makes missing parents and leaves existing ones as they are.
 */
export function buildSparseFilesTarArgv(
  source: string,
  archive: string,
  members: readonly string[],
): string[] {
  return [
    'tar',
    '--create',
    '--sparse',
    '--numeric-owner',
    '--no-recursion',
    `--file=${archive}`,
    `--directory=${source}`,
    '--',
    ...members,
  ];
}

/** Archives the files `members` under `source` into `archive`, sparse. */
export async function createSparseFilesTar(
  source: string,
  archive: string,
  members: readonly string[],
  run: RunToolOptions = {},
): Promise<ExecResult> {
  return runCommand(buildSparseFilesTarArgv(source, archive, members), {
    signal: run.signal,
    sink: run.sink,
  });
}

/** Extracts `archive` into `target`. */
export async function extractTar(
  archive: string,
  target: string,
  compression: TarCompression,
  run: RunToolOptions = {},
): Promise<ExecResult> {
  return runCommand(buildTarExtractArgv(archive, target, compression), {
    signal: run.signal,
    sink: run.sink,
  });
}

/** Archives the tree at `source` into `archive`. */
export async function createTar(
  source: string,
  archive: string,
  compression: TarCompression,
  exclude: readonly string[] = [],
  run: RunToolOptions = {},
): Promise<ExecResult> {
  return runCommand(buildTarCreateArgv(source, archive, compression, exclude), {
    signal: run.signal,
    sink: run.sink,
  });
}

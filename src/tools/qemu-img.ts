/** qemu-img: image information, format conversion and copy-on-write overlays. */
import { XenkitError } from '../errors.js';
import type { ImageFormat } from '../model/guest-spec.js';
import { runCommand, type ExecOptions } from './exec.js';
import type { DataRange } from './filefrag.js';

/** What `qemu-img info` says about an image. */
export interface QemuImageInfo {
  filename: string;
  format: string;
  /** Size the guest sees, bytes. */
  virtualSize: number;
  /** Space taken on the host, bytes. */
  actualSize: number | undefined;
  clusterSize: number | undefined;
  backingFile: string | undefined;
  backingFormat: string | undefined;
  dirty: boolean;
}

/** qcow2 preallocation modes qemu-img understands. */
export type Preallocation = 'off' | 'metadata' | 'falloc' | 'full';

export interface ConvertOptions {
  source: string;
  sourceFormat: ImageFormat;
  target: string;
  targetFormat: ImageFormat;
  preallocation?: Preallocation | undefined;
  /** Compressed clusters (`-c`, qcow2 targets only). */
  compress?: boolean;
}

/** The argv of `qemu-img info` in JSON. `-U` so an image a running guest holds can be read too. */
export function infoArgv(path: string): string[] {
  return ['qemu-img', 'info', '-U', '--output=json', path];
}

/** Parses `qemu-img info --output=json` (one image, not a backing chain). */
export function parseQemuImgInfo(text: string): QemuImageInfo {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new XenkitError('E_QEMU_IMG', 'qemu-img info printed something that is not JSON', { cause });
  }
  const num = (key: string): number | undefined =>
    typeof raw[key] === 'number' ? (raw[key] as number) : undefined;
  const str = (key: string): string | undefined =>
    typeof raw[key] === 'string' ? (raw[key] as string) : undefined;
  const virtualSize = num('virtual-size');
  const format = str('format');
  if (virtualSize === undefined || format === undefined) {
    throw new XenkitError('E_QEMU_IMG', 'qemu-img info did not report a format and a virtual size');
  }
  return {
    filename: str('filename') ?? '',
    format,
    virtualSize,
    actualSize: num('actual-size'),
    clusterSize: num('cluster-size'),
    backingFile: str('full-backing-filename') ?? str('backing-filename'),
    backingFormat: str('backing-filename-format'),
    dirty: raw['dirty-flag'] === true,
  };
}

/** Reads what qemu-img knows about the image at `path`. */
export async function readImageInfo(path: string, options: ExecOptions = {}): Promise<QemuImageInfo> {
  const result = await runCommand(infoArgv(path), options);
  return parseQemuImgInfo(result.stdout);
}

/** The argv of `qemu-img convert`. */
export function convertArgv(options: ConvertOptions): string[] {
  const prealloc =
    options.preallocation && options.preallocation !== 'off' ? options.preallocation : undefined;
  return [
    'qemu-img',
    'convert',
    '-f',
    options.sourceFormat,
    '-O',
    options.targetFormat,
    ...(options.compress ? ['-c'] : []),
    ...(prealloc ? ['-o', `preallocation=${prealloc}`] : []),
    options.source,
    options.target,
  ];
}

/** Converts an image between formats (the target must not exist; callers pick a temp name). */
export async function convertImage(options: ConvertOptions, exec: ExecOptions = {}): Promise<void> {
  await runCommand(convertArgv(options), exec);
}

/** The argv of `qemu-img compare` (content only: a hole and a zero cluster are the same). */
export function compareImagesArgv(a: string, aFormat: string, b: string, bFormat: string): string[] {
  return ['qemu-img', 'compare', '-f', aFormat, '-F', bFormat, a, b];
}

/** Whether two images hold the same content (exit 0 same, 1 different; anything else throws). */
export async function compareImages(
  a: { path: string; format: string },
  b: { path: string; format: string },
  exec: ExecOptions = {},
): Promise<boolean> {
  const result = await runCommand(compareImagesArgv(a.path, a.format, b.path, b.format), {
    ...exec,
    allowFailure: true,
  });
  if (result.exitCode === 0) return true;
  if (result.exitCode === 1) return false;
  throw new XenkitError('E_QEMU_IMG', `qemu-img compare ${a.path} ${b.path} failed: ${result.stderr.trim()}`);
}

/** The argv of `qemu-img create` for a qcow2 overlay on `base` (the base's format is explicit). */
export function createOverlayArgv(base: string, baseFormat: string, overlay: string): string[] {
  return ['qemu-img', 'create', '-f', 'qcow2', '-F', baseFormat, '-b', base, overlay];
}

/** Creates a qcow2 overlay whose reads fall through to `base` (a linked clone). */
export async function createOverlay(
  base: string,
  baseFormat: string,
  overlay: string,
  exec: ExecOptions = {},
): Promise<void> {
  await runCommand(createOverlayArgv(base, baseFormat, overlay), exec);
}

/** The argv of `qemu-img resize` (`--shrink` is needed to make an image smaller). */
export function resizeImageArgv(path: string, format: string, sizeBytes: number, shrink = false): string[] {
  return ['qemu-img', 'resize', '-f', format, ...(shrink ? ['--shrink'] : []), path, String(sizeBytes)];
}

/** Sets the virtual size of an image (the filesystem inside is grown separately). */
export async function resizeImage(
  path: string,
  format: string,
  sizeBytes: number,
  options: ExecOptions & { shrink?: boolean } = {},
): Promise<void> {
  await runCommand(resizeImageArgv(path, format, sizeBytes, options.shrink), options);
}

/**
 * The argv of `qemu-img map` in JSON: what the guest sees at each offset of the image (its backing
 * chain included), data or zeros. `-U` as for info.
 */
export function mapImageArgv(path: string, format: string): string[] {
  return ['qemu-img', 'map', '-U', '--output=json', '-f', format, path];
}

/**
 * The ranges of `qemu-img map --output=json` that hold data the guest sees (not zeros, not
 * unallocated), merged and sorted.
 */
export function parseImageMap(text: string): DataRange[] {
  let entries: unknown;
  try {
    entries = JSON.parse(text);
  } catch (cause) {
    throw new XenkitError('E_QEMU_IMG', 'qemu-img map printed something that is not JSON', { cause });
  }
  if (!Array.isArray(entries)) throw new XenkitError('E_QEMU_IMG', 'qemu-img map did not print a list');
  const ranges: DataRange[] = [];
  for (const entry of entries as Record<string, unknown>[]) {
    const { start, length } = entry;
    if (typeof start !== 'number' || typeof length !== 'number') {
      throw new XenkitError('E_QEMU_IMG', 'qemu-img map printed an entry without start and length');
    }
    if (entry['data'] !== true || entry['zero'] === true) continue;
    const last = ranges[ranges.length - 1];
    if (last && start <= last.end) last.end = Math.max(last.end, start + length);
    else ranges.push({ start, end: start + length });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** The guest-visible data ranges of image `path` (any format, backing chain included). */
export async function readImageDataRanges(
  path: string,
  format: string,
  options: ExecOptions = {},
): Promise<DataRange[]> {
  const result = await runCommand(mapImageArgv(path, format), { timeoutMs: 120_000, ...options });
  return parseImageMap(result.stdout);
}

/** The argv that lists an image and every file of its backing chain, in JSON. */
export function backingChainArgv(path: string, format: string): string[] {
  return ['qemu-img', 'info', '-U', '--backing-chain', '--output=json', '-f', format, path];
}

/** The files of an image's backing chain (not the image itself), nearest first. */
export async function readBackingFiles(
  path: string,
  format: string,
  options: ExecOptions = {},
): Promise<string[]> {
  const result = await runCommand(backingChainArgv(path, format), options);
  let chain: unknown;
  try {
    chain = JSON.parse(result.stdout);
  } catch (cause) {
    throw new XenkitError('E_QEMU_IMG', 'qemu-img info printed something that is not JSON', { cause });
  }
  const files = (Array.isArray(chain) ? chain : [chain]).map(
    (info: Record<string, unknown>) => info['filename'],
  );
  if (!files.every((f): f is string => typeof f === 'string')) {
    throw new XenkitError('E_QEMU_IMG', `qemu-img info --backing-chain ${path}: an image without a filename`);
  }
  return files.slice(1);
}

/** The argv of `qemu-img create` for a new empty image (no backing file) of `sizeBytes`. */
export function createImageArgv(path: string, format: string, sizeBytes: number): string[] {
  return ['qemu-img', 'create', '-q', '-f', format, path, String(sizeBytes)];
}

/** Makes a new empty image (a qcow2 holds only its header until written). */
export async function createImage(
  path: string,
  format: string,
  sizeBytes: number,
  options: ExecOptions = {},
): Promise<void> {
  await runCommand(createImageArgv(path, format, sizeBytes), options);
}

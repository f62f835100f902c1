/**
 * filefrag (e2fsprogs): a file's extent map through FIEMAP, i.e. which byte ranges hold data and
 * which are holes. Node's fs has no lseek(SEEK_DATA/SEEK_HOLE); this is how a backup skips the
 * holes of a sparse image without reading gigabytes of zeros.
 */
import { runCommand, type ExecOptions } from './exec.js';

/** A byte range [start, end) of a file that holds data. */
export interface DataRange {
  start: number;
  end: number;
}

/** The argv that prints every extent of `file`. */
export function extentMapArgv(file: string): string[] {
  return ['filefrag', '-e', '--', file];
}

/**
 * The data ranges in filefrag -e output, merged and sorted; undefined when the output is not an
 * extent listing (the filesystem has no FIEMAP: filefrag then prints something else or fails).
 */
export function parseExtentMap(text: string): DataRange[] | undefined {
  const size = /\((\d+) blocks? of (\d+) bytes\)/.exec(text);
  // A file that is one hole gets no table header, only "0 extents found".
  if (!size || !(/logical_offset/.test(text) || /: 0 extents found/.test(text))) return undefined;
  const block = Number(size[2]);
  const ranges: DataRange[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):/.exec(line);
    // Unwritten extents (fallocate, or a QEMU copy job writing zeros) read as zeros: not data.
    if (!m || /\bunwritten\b/.test(line)) continue;
    const start = Number(m[1]) * block;
    const end = (Number(m[2]) + 1) * block;
    const last = ranges[ranges.length - 1];
    if (last && start <= last.end) last.end = Math.max(last.end, end);
    else ranges.push({ start, end });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/** The data ranges of `file`, or undefined when its filesystem cannot tell (then read it all). */
export async function readDataRanges(
  file: string,
  options: ExecOptions = {},
): Promise<DataRange[] | undefined> {
  const result = await runCommand(extentMapArgv(file), {
    ...options,
    allowFailure: true,
    timeoutMs: 60_000,
  }).catch(() => undefined);
  if (!result || result.exitCode !== 0) return undefined;
  return parseExtentMap(result.stdout);
}

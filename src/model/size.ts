import { usageError } from '../errors.js';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

const SIZE_RE = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/i;

export interface ParseSizeOptions {
  /** Unit assumed when none is given: xen-tools reads a bare number as megabytes for memory. */
  defaultUnit?: 'b' | 'k' | 'm' | 'g';
  /** Allows `0` (e.g. swap = 0 meaning no swap). */
  allowZero?: boolean;
}

/**
 * Parses a xen-tools size (`1Gb`, `1G`, `1024M`, `128Mb`, `1.5G`, `2T`) into bytes,
 * rounded down to a whole KiB. `what` names the input in the error (`size "4X"`).
 */
export function parseSize(text: string, what: string, options: ParseSizeOptions = {}): number {
  const trimmed = text.trim();
  const match = SIZE_RE.exec(trimmed);
  const hint = 'write a number with a unit, e.g. 512M, 4G, 1.5G or 2T';
  if (!match) throw usageError('E_SIZE', `${what} "${text}" is not a size`, hint);
  const [, number = '', rawUnit = ''] = match;
  const unit = rawUnit.toLowerCase();
  const factor = unit === '' ? UNITS[options.defaultUnit ?? 'm'] : UNITS[unit];
  if (factor === undefined) {
    throw usageError('E_SIZE', `${what} "${text}" has an unknown unit "${rawUnit}"`, hint);
  }
  const bytes = Math.floor((Number(number) * factor) / 1024) * 1024;
  if (bytes === 0 && !options.allowZero) {
    throw usageError('E_SIZE', `${what} "${text}" must be larger than zero`, hint);
  }
  if (!Number.isSafeInteger(bytes)) throw usageError('E_SIZE', `${what} "${text}" is too large`, hint);
  return bytes;
}

/** Formats bytes the way xen-tools writes sizes: the largest whole unit (`4G`, `512M`, `1536M`). */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/** Byte counts for people, one decimal in powers of 1024: `2.0G`, `1.6M`, `512B`; `-` when unknown. */
export function formatApproxSize(bytes: number | undefined): string {
  if (bytes === undefined) return '-';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(1)}${units[unit]}`;
}

/** Whole MiB in `bytes`, as xl.cfg's `memory` wants it. */
export function toMiB(bytes: number): number {
  return Math.floor(bytes / 1024 ** 2);
}

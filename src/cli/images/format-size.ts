/** Byte counts for people: 2.0G, 512M, 1.6M, 4.0K. */

/** Formats bytes with one decimal in powers of 1024 (`-` when unknown). */
export function formatSize(bytes: number | undefined): string {
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

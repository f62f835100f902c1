/**
 * Renders `xm list` as xm and xl print it: "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f" under the
 * header below (xl writes tabs before State and Time(s); expanded here, as xm printed it).
 */
import type { DomainInfo, DomainState, HostInfo } from '../hypervisors/driver.js';

/** The header line of `xm list`. */
export const LIST_HEADER = 'Name                                        ID   Mem VCPUs      State   Time(s)';

/** One line of the table; undefined cells print as `-` (defined-but-stopped guests). */
export interface ListRow {
  name: string;
  id: number | undefined;
  memoryMiB: number | undefined;
  vcpus: number | undefined;
  stateLetters: string;
  cpuTimeSec: number | undefined;
}

/** Xen's six state letters, `-` for each flag not set: r b p s c d. */
export function formatStateLetters(state: DomainState): string {
  return [
    state.running ? 'r' : '-',
    state.blocked ? 'b' : '-',
    state.paused ? 'p' : '-',
    state.shutdown ? 's' : '-',
    state.crashed ? 'c' : '-',
    state.dying ? 'd' : '-',
  ].join('');
}

/** Domain-0's row: the host itself. */
export function hostRow(host: HostInfo): ListRow {
  const letters = host.details.stateLetters;
  return {
    name: 'Domain-0',
    id: 0,
    memoryMiB: host.hostMemoryMiB,
    vcpus: host.hostCpus,
    stateLetters: typeof letters === 'string' && letters.length === 6 ? letters : 'r-----',
    cpuTimeSec: host.hostCpuTimeSec,
  };
}

/** A running (or paused) guest's row. */
export function domainRow(domain: DomainInfo): ListRow {
  return {
    name: domain.name,
    id: domain.id,
    memoryMiB: domain.memoryMiB,
    vcpus: domain.vcpus,
    stateLetters: formatStateLetters(domain.state),
    cpuTimeSec: domain.cpuTimeSec,
  };
}

/** A guest that has a config but is not running (`list --all`). */
export function definedRow(name: string, memoryMiB?: number, vcpus?: number): ListRow {
  return { name, id: undefined, memoryMiB, vcpus, stateLetters: '------', cpuTimeSec: undefined };
}

function cell(value: number | undefined, width: number, format = (n: number) => String(n)): string {
  return (value === undefined ? '-' : format(value)).padStart(width);
}

/** One line of the table, without the newline. */
export function renderListRow(row: ListRow): string {
  return [
    row.name.padEnd(40),
    ' ',
    cell(row.id, 5),
    ' ',
    cell(row.memoryMiB, 5),
    ' ',
    cell(row.vcpus, 5),
    '     ',
    row.stateLetters,
    '  ',
    cell(row.cpuTimeSec, 8, (n) => n.toFixed(1)),
  ].join('');
}

/** The whole table: header, then the rows in the order given. */
export function renderList(rows: readonly ListRow[]): string {
  return [LIST_HEADER, ...rows.map(renderListRow)].map((line) => `${line}\n`).join('');
}

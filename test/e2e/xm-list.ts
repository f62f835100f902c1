/** Reads `xm list` output in the seed's columns: Name ID Mem VCPUs State Time(s). */

/** One row of `xm list`; `-` cells (stopped guests) are undefined. */
export interface XmListRow {
  name: string;
  id: number | undefined;
  memMiB: number | undefined;
  vcpus: number | undefined;
  state: string;
  timeSec: number | undefined;
}

const HEADER = /^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)\s*$/;

const numberOrDash = (cell: string, line: string): number | undefined => {
  if (cell === '-') return undefined;
  const value = Number(cell);
  if (!Number.isFinite(value)) throw new Error(`xm list: "${cell}" is not a number in: ${line}`);
  return value;
};

/**
 * Parses the table; throws when the header is not the seed's or a row has not six cells. Names
 * hold no blanks (xl refuses them), so splitting on runs of blanks is exact.
 */
export function parseXmList(text: string): XmListRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const [header, ...rows] = lines;
  if (header === undefined || !HEADER.test(header)) {
    throw new Error(`xm list: unexpected header: ${JSON.stringify(header)}`);
  }
  return rows.map((line) => {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== 6) throw new Error(`xm list: expected 6 columns in: ${line}`);
    const [name = '', id = '', mem = '', vcpus = '', state = '', time = ''] = cells;
    if (!/^[-rbpscd]{6}$/.test(state)) throw new Error(`xm list: "${state}" is not a state in: ${line}`);
    return {
      name,
      id: numberOrDash(id, line),
      memMiB: numberOrDash(mem, line),
      vcpus: numberOrDash(vcpus, line),
      state,
      timeSec: numberOrDash(time, line),
    };
  });
}

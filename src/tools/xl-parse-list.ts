/** Parsers for `xl list` (the table) and `xl uptime`, whose layouts come from xl's own printf formats. */
import { runtimeError } from '../errors.js';
import type { DomainState } from '../model/domain-state.js';

/** One row of `xl list`. */
export interface XlListRow {
  name: string;
  id: number;
  memoryMiB: number;
  vcpus: number;
  state: DomainState;
  /** The six state letters as xl printed them (`-b----`). */
  stateLetters: string;
  cpuTimeSec: number;
}

// xl prints "%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f": the name may hold spaces, so the row is read
// from the right. The fifth letter is the shutdown reason ("-rscwS"); 'c' means crashed.
const ROW_RE = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+([-rbpscwdS?]{6})\s+(\d+(?:\.\d+)?)(?:\s.*)?$/;

/** Turns xl's six state letters into flags. */
export function parseStateLetters(letters: string): DomainState {
  return {
    running: letters[0] === 'r',
    blocked: letters[1] === 'b',
    paused: letters[2] === 'p',
    shutdown: letters[3] === 's',
    crashed: letters[4] === 'c',
    dying: letters[5] === 'd',
  };
}

/** Parses the table `xl list` prints (header first, Domain-0 included). */
export function parseXlList(text: string): XlListRow[] {
  const rows: XlListRow[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('Name ')) continue;
    const match = ROW_RE.exec(line.trimEnd());
    if (!match) {
      throw runtimeError('E_XL_OUTPUT', `xl list: cannot read the line "${line}"`, 'is xl a Xen 4.x xl?');
    }
    const [, name = '', id = '', mem = '', vcpus = '', letters = '', time = ''] = match;
    rows.push({
      name: name.trim(),
      id: Number(id),
      memoryMiB: Number(mem),
      vcpus: Number(vcpus),
      state: parseStateLetters(letters),
      stateLetters: letters,
      cpuTimeSec: Number(time),
    });
  }
  return rows;
}

/** One row of `xl uptime`. */
export interface XlUptimeRow {
  name: string;
  id: number;
  uptimeSec: number;
}

// "%-33s %4d %s" with the uptime as "[D day[s], ]H:MM:SS" (hours padded with a space).
const UPTIME_RE = /^(.*?)\s+(\d+)\s+(?:(\d+) days?,\s+)?(\d+):(\d\d):(\d\d)$/;

/** Parses `xl uptime` (long form). */
export function parseXlUptime(text: string): XlUptimeRow[] {
  const rows: XlUptimeRow[] = [];
  for (const line of text.split('\n')) {
    const match = UPTIME_RE.exec(line.trim());
    if (!match) continue;
    const [, name = '', id = '', days = '0', hours = '0', minutes = '0', seconds = '0'] = match;
    rows.push({
      name: name.trim(),
      id: Number(id),
      uptimeSec: Number(days) * 86400 + Number(hours) * 3600 + Number(minutes) * 60 + Number(seconds),
    });
  }
  return rows;
}

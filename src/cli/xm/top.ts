/**
 * `xm top`: xentop's table of every domain (Domain-0 first): state, CPU time and share, memory,
 * vCPUs. On a terminal it redraws every DELAY seconds until q or Ctrl-C; piped, or with -b, it
 * prints ITERATIONS tables one after another (one when piped without -b), for scripts.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { DomainInfo, HostInfo } from '../../hypervisors/driver.js';
import { formatStateLetters, hostRow } from '../render-list.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, Session } from './session.js';

/** One domain's figures in one sample. */
export interface TopRow {
  name: string;
  id: number;
  state: string;
  cpuSec: number;
  /** Share of one CPU since the previous sample (the first: since the domain started). */
  cpuPercent: number;
  memKiB: number;
  memPercent: number;
  maxMemKiB: number;
  maxMemPercent: number;
  vcpus: number;
}

/** The rows of one sample; `previous` (cpu seconds by domain ID, and when) gives the CPU share. */
export function topRows(
  host: HostInfo,
  domains: readonly DomainInfo[],
  now: Date,
  previous?: { at: Date; cpu: Map<number, number> },
): TopRow[] {
  const hostKiB = host.hostMemoryMiB * 1024;
  const pct = (kib: number): number => (hostKiB > 0 ? (100 * kib) / hostKiB : 0);
  const share = (id: number, cpu: number, startedAt: Date | undefined): number => {
    const before = previous?.cpu.get(id);
    if (previous && before !== undefined) {
      const secs = (now.getTime() - previous.at.getTime()) / 1000;
      return secs > 0 ? (100 * Math.max(0, cpu - before)) / secs : 0;
    }
    const up = startedAt ? (now.getTime() - startedAt.getTime()) / 1000 : 0;
    return up > 0 ? (100 * cpu) / up : 0;
  };
  const dom0 = hostRow(host);
  const rows: TopRow[] = [
    {
      name: dom0.name,
      id: 0,
      state: dom0.stateLetters,
      cpuSec: host.hostCpuTimeSec,
      cpuPercent: previous ? share(0, host.hostCpuTimeSec, undefined) : 0,
      memKiB: hostKiB,
      memPercent: 100,
      maxMemKiB: hostKiB,
      maxMemPercent: 100,
      vcpus: host.hostCpus,
    },
  ];
  for (const d of [...domains].sort((a, b) => a.id - b.id)) {
    rows.push({
      name: d.name,
      id: d.id,
      state: formatStateLetters(d.state),
      cpuSec: d.cpuTimeSec,
      cpuPercent: share(d.id, d.cpuTimeSec, d.startedAt),
      memKiB: d.memoryMiB * 1024,
      memPercent: pct(d.memoryMiB * 1024),
      maxMemKiB: d.maxMemoryMiB * 1024,
      maxMemPercent: pct(d.maxMemoryMiB * 1024),
      vcpus: d.vcpus,
    });
  }
  return rows;
}

const COLUMNS: [string, number][] = [
  ['NAME', 20],
  ['STATE', 7],
  ['CPU(sec)', 10],
  ['CPU(%)', 7],
  ['MEM(k)', 11],
  ['MEM(%)', 7],
  ['MAXMEM(k)', 11],
  ['MAXMEM(%)', 10],
  ['VCPUS', 6],
];

/** One sample as xentop prints it: a summary line, then the right-aligned table. */
export function renderTop(rows: readonly TopRow[], now: Date): string {
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(COLUMNS[i]?.[1] ?? 0)).join(' ');
  const guests = rows.filter((r) => r.id !== 0);
  const count = (letter: number, ch: string): number => guests.filter((r) => r.state[letter] === ch).length;
  const summary =
    `xm top - ${now.toISOString().slice(11, 19)}   ${guests.length} domains: ${count(0, 'r')} running, ` +
    `${count(1, 'b')} blocked, ${count(2, 'p')} paused, ${count(4, 'c')} crashed`;
  const body = rows.map((r) =>
    line([
      r.name.length > 20 ? r.name.slice(0, 20) : r.name,
      r.state,
      r.cpuSec.toFixed(0),
      r.cpuPercent.toFixed(1),
      String(r.memKiB),
      r.memPercent.toFixed(1),
      String(r.maxMemKiB),
      r.maxMemPercent.toFixed(1),
      String(r.vcpus),
    ]),
  );
  return [summary, line(COLUMNS.map(([h]) => h)), ...body].join('\n') + '\n';
}

function parseNumberOption(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || n < min) {
    throw usageError(
      'E_ARG',
      `${what} "${text}" is not a number of at least ${min}`,
      'e.g. xm top -b -i 3 -d 2',
    );
  }
  return n;
}

/** Registers `top`. */
export function addTopCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('top')
    .summary('show the domains and what they use, refreshed (like xentop)')
    .description(
      'Show every domain with its state, CPU time, CPU share since the last refresh (the first: since ' +
        'it started), memory and maximum memory (and their share of the host) and vCPUs. On a terminal ' +
        'the table is redrawn every DELAY seconds until q or Ctrl-C; with -b (or when the output is not ' +
        'a terminal) the tables are printed one after another, ITERATIONS of them (default: forever with ' +
        '-b, one when piped). --json prints each sample as one line of JSON.',
    )
    .option('-b, --batch', 'print samples one after another instead of redrawing')
    .option('-i, --iterations <n>', 'number of samples, then stop')
    .option('-d, --delay <secs>', 'seconds between samples (default 3)');
  addCommonOptions(command).action(async (_o: unknown, cmd: Command) => {
    const flags = flagsOf<{ batch?: boolean; iterations?: string; delay?: string }>(cmd);
    const session = new Session(deps, flags);
    const delayMs = 1000 * (flags.delay === undefined ? 3 : parseNumberOption(flags.delay, 'delay', 0.1));
    const stdout = deps.io.stdout as NodeJS.WritableStream & { isTTY?: boolean };
    const live = flags.batch !== true && !session.json && stdout.isTTY === true;
    const iterations =
      flags.iterations !== undefined
        ? parseNumberOption(flags.iterations, 'iterations', 1)
        : live || flags.batch === true
          ? Infinity
          : 1;
    const driver = await session.driver();
    const now = deps.now ?? (() => new Date());
    let stopped = false;
    let wake: (() => void) | undefined;
    const stop = (): void => {
      stopped = true;
      wake?.();
    };
    const input = deps.io.stdin as NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => void };
    const onKey = (chunk: Buffer | string): void => {
      const key = chunk.toString();
      if (key.includes('q') || key.includes('\u0003')) stop();
    };
    if (live && deps.io.isTTY) {
      input.setRawMode?.(true);
      input.on('data', onKey);
      input.resume();
    }
    try {
      let previous: { at: Date; cpu: Map<number, number> } | undefined;
      for (let i = 0; i < iterations && !stopped; i++) {
        if (i > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delayMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          if (stopped) break;
        }
        const [host, domains] = await Promise.all([driver.hostInfo(), driver.list()]);
        const at = now();
        const rows = topRows(host, domains, at, previous);
        previous = { at, cpu: new Map(rows.map((r) => [r.id, r.cpuSec])) };
        if (session.json) stdout.write(`${JSON.stringify({ time: at.toISOString(), domains: rows })}\n`);
        else stdout.write(`${live ? '\u001b[H\u001b[2J' : i > 0 ? '\n' : ''}${renderTop(rows, at)}`);
      }
    } finally {
      if (live && deps.io.isTTY) {
        input.off('data', onKey);
        input.setRawMode?.(false);
        input.pause();
      }
    }
  });
}

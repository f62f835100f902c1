/** Parsers for `xl info` (`key : value` lines) and the `Name ID Weight Cap` table of `xl sched-credit[2]`. */
import { runtimeError } from '../errors.js';
import type { SchedParams } from '../model/domain-state.js';

/** `xl info` as a map from key (`xen_scheduler`, `total_memory`, ...) to its text value. */
export function parseXlInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\n')) {
    // Values may contain colons (xen_commandline, hw_caps), so split on the first " : " only.
    const match = /^(\w+)\s*:\s?(.*)$/.exec(line);
    if (match?.[1]) info[match[1]] = (match[2] ?? '').trim();
  }
  return info;
}

/** The scheduler Xen runs, from `xl info`'s xen_scheduler (`credit`, `credit2`, `rtds`, `null`, ...). */
export function schedulerOf(info: Record<string, string>): string {
  return info.xen_scheduler ?? 'credit2';
}

/** Parses the one-domain table of `xl sched-credit -d NAME` (printed as "%-33s %4d %6d %4d"). */
export function parseXlSchedCredit(text: string, name: string): SchedParams {
  for (const line of text.split('\n')) {
    const match = /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line.trim());
    if (match && match[1]?.trim() === name) return { weight: Number(match[3]), cap: Number(match[4]) };
  }
  throw runtimeError(
    'E_XL_OUTPUT',
    `xl sched-credit: no row for domain "${name}"`,
    'run `xl sched-credit` by hand',
  );
}

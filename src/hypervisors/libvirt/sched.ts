/**
 * sched-credit under libvirt: Xen's credit weight and cap as libvirt's cgroup scheduler fields.
 * Weight -> `cpu_shares` scaled by 4 (Xen's default 256 is the cgroup default 1024); cap (percent
 * of one CPU for the whole guest) -> `global_quota` over a `global_period` of 100 ms.
 */
import { usageError } from '../../errors.js';
import type { SchedParams } from '../../model/domain-state.js';

const SHARES_PER_WEIGHT = 4;
const PERIOD_US = 100_000;
/** libvirt's "no limit" for a quota (its largest value; -1 also reads as none). */
const NO_QUOTA = '17592186044415';

/** The `virsh schedinfo --set` fields for the weight and cap being set. */
export function schedToVirsh(params: Partial<SchedParams>): Record<string, string> {
  const set: Record<string, string> = {};
  if (params.weight !== undefined) set.cpu_shares = String(params.weight * SHARES_PER_WEIGHT);
  if (params.cap !== undefined) {
    set.global_period = String(PERIOD_US);
    set.global_quota = params.cap === 0 ? NO_QUOTA : String((params.cap * PERIOD_US) / 100);
  }
  return set;
}

/** Weight and cap from `virsh schedinfo`; E_UNSUPPORTED when libvirt has no CPU controls for the guest. */
export function schedFromVirsh(name: string, uri: string, fields: Record<string, string>): SchedParams {
  const shares = Number(fields.cpu_shares);
  if (fields.cpu_shares === undefined || !Number.isFinite(shares)) {
    throw usageError(
      'E_UNSUPPORTED',
      `sched-credit is not supported under libvirt at ${uri}: it reports no CPU shares for "${name}"`,
      'libvirt needs the cgroup cpu controller on that host',
    );
  }
  const quota = Number(fields.global_quota);
  const period = Number(fields.global_period) || PERIOD_US;
  const capped = Number.isFinite(quota) && quota > 0 && String(quota) !== NO_QUOTA;
  return {
    weight: Math.max(1, Math.round(shares / SHARES_PER_WEIGHT)),
    cap: capped ? Math.round((quota * 100) / period) : 0,
  };
}

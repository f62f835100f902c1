/**
 * xl vif specs (`vif = [ 'ip=…,mac=…,bridge=…' ]`, xl-network-configuration(5)): comma
 * separated `key=value` pairs, all optional; an empty spec is a NIC with every default. As in
 * xl's parse_nic_config, leading blanks of each pair are skipped; unlike xl, values are also
 * trimmed at the end, because xen-tools 4.9.2 writes `ip=1.2.3.4 ,mac=…` (its `ips` list ends
 * with a space) and consumers of VifConfig should not have to know that.
 */
import type { VifConfig } from '../model/domain-config.js';

const MODELLED = ['ip', 'mac', 'vifname', 'bridge', 'model'] as const;
type ModelledKey = (typeof MODELLED)[number];

/** A parsed vif spec: the VifConfig plus the pairs it does not model (`type=`, `rate=`, `script=`, …). */
export interface ParsedVifSpec {
  vif: VifConfig;
  extras: string[];
}

/** Parses one vif spec string. xl rejects nothing here that it would accept, so this never throws. */
export function parseVifSpec(spec: string): ParsedVifSpec {
  const fields: Partial<Record<ModelledKey, string>> = {};
  const extras: string[] = [];
  for (const piece of spec.split(',')) {
    const pair = piece.replace(/^[ \t]+/, '');
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    if ((MODELLED as readonly string[]).includes(key)) {
      fields[key as ModelledKey] = value === '' ? undefined : value;
    } else {
      extras.push(pair.trimEnd());
    }
  }
  return {
    vif: {
      mac: fields.mac,
      bridge: fields.bridge,
      ip: fields.ip,
      vifname: fields.vifname,
      model: fields.model,
      raw: spec,
    },
    extras,
  };
}

/** The canonical spec for a VifConfig (`ip=…,mac=…,vifname=…,bridge=…,model=…`), keeping the
 * unmodelled pairs found in `vif.raw`. */
export function formatVifSpec(vif: VifConfig): string {
  const parts: string[] = [];
  for (const key of MODELLED) {
    const value = vif[key];
    if (value !== undefined) parts.push(`${key}=${value}`);
  }
  parts.push(...parseVifSpec(vif.raw).extras);
  return parts.join(',');
}

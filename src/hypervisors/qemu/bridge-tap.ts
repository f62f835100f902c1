/**
 * Bridged NICs: for a cfg vif with `bridge=BR` where BR exists on the host, QEMU creates a tap
 * itself (`-netdev tap,ifname=...,script=no`) and the driver enslaves it to BR while the guest
 * is still stopped (`-S`). The tap is not persistent, so the kernel removes it when QEMU closes
 * it: no cleanup is left to us even if QEMU is killed. Vifs without a usable bridge get QEMU's
 * user-mode network.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { VifConfig } from '../../model/domain-config.js';
import { runCommand } from '../../tools/exec.js';

// IFNAMSIZ is 16 including the NUL.
const MAX_IFNAME = 15;

/** Whether `name` is a bridge on this host. */
export function isBridge(name: string, sysRoot = '/sys'): boolean {
  return /^[\w.-]+$/.test(name) && existsSync(path.join(sysRoot, 'class/net', name, 'bridge'));
}

/** The tap name for vif `index` of domain `domid`: the cfg's vifname, else `xkvifID.N` (xl says `vifID.N`). */
export function tapName(vif: VifConfig, domid: number, index: number): string {
  const name = vif.vifname ?? `xkvif${domid}.${index}`;
  return name.slice(0, MAX_IFNAME);
}

/** Per vif: the tap to create when its bridge exists, else undefined (user-mode networking). */
export function planTaps(
  vifs: readonly VifConfig[],
  domid: number,
  sysRoot = '/sys',
): (string | undefined)[] {
  return vifs.map((vif, index) =>
    vif.bridge !== undefined && isBridge(vif.bridge, sysRoot) ? tapName(vif, domid, index) : undefined,
  );
}

/** Enslaves `tap` to `bridge` and brings it up. */
export async function attachTap(tap: string, bridge: string): Promise<void> {
  await runCommand(['ip', 'link', 'set', 'dev', tap, 'master', bridge, 'up']);
}

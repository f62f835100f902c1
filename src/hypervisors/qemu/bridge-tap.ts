/**
 * Bridged NICs: for a cfg vif with `bridge=BR` where BR exists on the host, QEMU creates a tap
 * itself (`-netdev tap,ifname=...,script=no`) and the driver enslaves it to BR while the guest
 * is still stopped (`-S`). The tap is not persistent, so the kernel removes it when QEMU closes
 * it: no cleanup is left to us even if QEMU is killed. Vifs without a usable bridge get QEMU's
 * user-mode network.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { usageError } from '../../errors.js';
import { parseVifSpec } from '../../formats/xl-cfg-vif.js';
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

/**
 * Refuses vifs that name a Xen hotplug script other than vif-bridge (`script=vif-openvswitch`
 * for a VLAN tag, vif-route, vif-nat): the QEMU driver attaches taps to Linux bridges only, and
 * a guest started without what its script would have set up (a tag, routes) is on the wrong net.
 */
export function refuseScriptedVifs(name: string, vifs: readonly VifConfig[]): void {
  for (const vif of vifs) {
    const script = parseVifSpec(vif.raw)
      .extras.find((pair) => pair.startsWith('script='))
      ?.slice(7);
    if (script === undefined || /(^|\/)vif-bridge$/.test(script)) continue;
    throw usageError(
      'E_VIF_SCRIPT',
      `guest "${name}": vif "${vif.raw}" needs Xen's ${script} script, which the QEMU driver does not run`,
      script.endsWith('vif-openvswitch')
        ? 'a VLAN-tagged Open vSwitch port (--vlan) needs the xl driver on a Xen host; drop script= and the .TAG for a plain bridge'
        : 'drop script= from the vif to attach to a Linux bridge, or start it with the xl driver',
    );
  }
}

/** Enslaves `tap` to `bridge` and brings it up. */
export async function attachTap(tap: string, bridge: string): Promise<void> {
  await runCommand(['ip', 'link', 'set', 'dev', tap, 'master', bridge, 'up']);
}

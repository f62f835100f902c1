/**
 * The clone's domain config: the source's cfg text with name, disk paths (and formats, for a
 * linked clone), vif MAC and addresses rewritten; every other line (memory, vcpus, bootloader,
 * comments the admin added) stays as it was.
 */
import { formatDiskSpec } from '../formats/xl-cfg-disk.js';
import { quoteXlString } from '../formats/xl-cfg-values.js';
import type { DiskConfig } from '../model/domain-config.js';

/** One disk of the clone: the source's disk and what the clone uses instead. */
export interface CloneDiskChange {
  from: DiskConfig;
  /** The clone's image as the cfg names it. */
  target: string;
  format: string;
}

export interface CloneCfgChanges {
  sourceName: string;
  name: string;
  disks: CloneDiskChange[];
  mac: string;
  /** The clone's network: DHCP, or static addresses written as the vif's `ip=`. */
  network: { mode: 'dhcp' | 'static' | 'none'; addresses: string[] };
  /** The line added under the header: how and when the clone was made. */
  note: string;
}

function replaceQuoted(text: string, before: string, after: string): string {
  for (const quote of ["'", '"']) {
    const quoted = `${quote}${before}${quote}`;
    if (text.includes(quoted)) return text.split(quoted).join(quoteXlString(after));
  }
  return text;
}

/** A disk spec for the clone, in the source's style when only the path changes. */
export function cloneDiskSpec(change: CloneDiskChange): string {
  if (change.format === change.from.format && change.from.raw.includes(change.from.target)) {
    const spec = change.from.raw.split(change.from.target).join(change.target);
    // A volume that became an image file: xl's file: prefix, as xen-tools writes for images.
    if (spec.startsWith('phy:') && !change.target.startsWith('/dev/')) return `file:${spec.slice(4)}`;
    // An image file that became a volume (restore --lvm): phy:, as xen-tools writes for volumes.
    return spec.startsWith('file:') && change.target.startsWith('/dev/') ? `phy:${spec.slice(5)}` : spec;
  }
  return formatDiskSpec({ ...change.from, format: change.format, target: change.target });
}

/** The vif spec with the new MAC and addresses (the rest of its pairs kept). */
export function cloneVifSpec(raw: string, mac: string, network: CloneCfgChanges['network']): string {
  const pairs = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !/^(mac|ip)=/i.test(p));
  const ip =
    network.mode === 'static' && network.addresses.length > 0 ? [`ip=${network.addresses.join(' ')}`] : [];
  return [...ip, `mac=${mac}`, ...pairs].join(',');
}

/** Rewrites the source cfg text into the clone's. */
export function renderCloneCfg(text: string, vifRaw: string | undefined, changes: CloneCfgChanges): string {
  let out = text;
  out = out.replace(
    /^(\s*name\s*=\s*)(['"]).*?\2/m,
    (_m, lead: string) => `${lead}${quoteXlString(changes.name)}`,
  );
  out = out.replace(
    new RegExp(`(Configuration file for the Xen instance )${escapeRe(changes.sourceName)}\\b`),
    `$1${changes.name}`,
  );
  for (const disk of changes.disks) out = replaceQuoted(out, disk.from.raw, cloneDiskSpec(disk));
  if (vifRaw !== undefined)
    out = replaceQuoted(out, vifRaw, cloneVifSpec(vifRaw, changes.mac, changes.network));
  const hasDhcp = /^\s*dhcp\s*=/m.test(out);
  if (changes.network.mode === 'dhcp' && !hasDhcp)
    out = out.replace(/^(\s*vif\s*=)/m, `dhcp        = 'dhcp'\n$1`);
  if (changes.network.mode !== 'dhcp' && hasDhcp) out = out.replace(/^\s*dhcp\s*=.*\n/m, '');
  out = out.replace(
    /^(#\n# Configuration file for the Xen instance [^\n]*\n(?:#[^\n]*\n)*?)(#\n)/,
    `$1# ${changes.note}\n$2`,
  );
  if (!out.includes(changes.note)) out = `# ${changes.note}\n${out}`;
  return out;
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The variables a xen-tools template (`--template FILE`, Perl Text::Template) sees, built from a
 * GuestSpec: the names and string forms xt-create-xen-config 4.9.2 hands to xm.tmpl (its
 * environment copy of xen-create-image's %CONFIG, plus `device`, `image_vbd`, `swap_vbd`,
 * `ips`, `xen_tools_version` and the `@PARTITIONS` list), and xenkit's own `type` and
 * `maxvcpus`. Unset options are absent, so `{ if ($pygrub) ... }` works as with xen-tools.
 */
import type { GuestSpec } from '../model/guest-spec.js';
import { listGuestVolumes } from '../model/guest-volumes.js';
import { formatSize, toMiB } from '../model/size.js';
import { XEN_TOOLS_VERSION, listGuestDiskTargets } from './xl-cfg-render.js';

/** One entry of xen-tools' `@PARTITIONS` (fields as xen-create-image exports them). */
export interface TemplatePartition {
  name: string;
  size: string;
  type: string;
  mountpoint: string;
  options: string;
  imagetype: string;
  image: string;
}

/** Template variables: scalars, plus the PARTITIONS list. */
export interface TemplateVars {
  scalars: Record<string, string>;
  partitions: TemplatePartition[];
}

function netmaskOf(prefix: number): string {
  const bits = prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

/** The variables xen-tools would give a template for this guest. */
export function buildTemplateVars(spec: GuestSpec): TemplateVars {
  const s: Record<string, string | undefined> = {};
  const net = spec.network;
  const boot = spec.boot;
  s.hostname = spec.hostname;
  s.xen_tools_version = XEN_TOOLS_VERSION;
  s.type = boot.type;
  s.memory = String(toMiB(spec.memory));
  if (spec.maxmem !== undefined) s.maxmem = String(toMiB(spec.maxmem));
  s.vcpus = String(spec.vcpus);
  if (spec.maxvcpus !== undefined) s.maxvcpus = String(spec.maxvcpus);
  s.dist = spec.install.dist;
  s.arch = spec.install.arch;
  s.install_method = spec.install.method;
  s.fs = spec.disk.fs;
  s.size = formatSize(spec.disk.size);
  if (spec.swap) s.swap = formatSize(spec.swap.size);
  else s.noswap = '1';
  s.serial_device = boot.serialDevice;
  if (boot.useGuestKernel) s.pygrub = '1';
  else {
    s.kernel = boot.kernel ?? '';
    s.initrd = boot.initrd ?? '';
  }
  s.modules = boot.modules;
  // xt-create-xen-config's base device name: xvda2 -> xvda.
  s.device = spec.disk.device.replace(/[0-9]+$/, '');
  s.disk_device = s.device;
  s.mac = net.mac;
  if (net.mode === 'dhcp') s.dhcp = '1';
  s.ips = net.addresses.map((a) => `${a.address} `).join('');
  net.addresses.forEach((a, i) => (s[`ip${i + 1}`] = a.address));
  s.ip_count = String(net.addresses.length);
  const first = net.addresses[0];
  if (first) s.netmask = netmaskOf(first.prefix);
  s.gateway = net.gateway;
  s.broadcast = net.broadcast;
  s.p2p = net.p2p;
  if (net.nameservers.length > 0) s.nameserver = net.nameservers.join(' ');
  s.bridge = net.bridge;
  s.vifname = net.vifname;
  s.vlan = net.vlan === undefined ? undefined : String(net.vlan);
  if (spec.accounts.admins.length > 0) s.admins = spec.accounts.admins.join(',');

  const storage = spec.storage;
  if (storage.kind === 'file') {
    s.dir = storage.dir;
    s.image = storage.allocation;
    s.image_prefix = `file:${storage.guestDir}/`;
    s.image_suffix = '.img';
  } else if (storage.kind === 'lvm') {
    s.lvm = storage.vg;
    s.image_prefix = `phy:${storage.vg}/${spec.hostname}-`;
    s.image_suffix = '';
  } else {
    s.image_dev = storage.imageDev;
    s.image_vbd = `phy:${storage.imageDev}`;
    if (storage.swapDev) {
      s.swap_dev = storage.swapDev;
      s.swap_vbd = `phy:${storage.swapDev}`;
    }
  }

  // xen-tools' order: by partition number (swap first, then "/", then a layout's others).
  const targets = listGuestDiskTargets(spec);
  const sized = storage.kind !== 'device';
  const partitions: TemplatePartition[] = [];
  for (const v of listGuestVolumes(spec)) {
    const target = targets.find((t) => t.vdev === v.device);
    if (!target) continue;
    partitions.push({
      name: v.name,
      size: sized ? formatSize(v.size) : '',
      type: v.type,
      mountpoint: v.mountpoint,
      options: v.mountOptions,
      imagetype: target.prefix,
      image: target.target,
    });
  }
  const scalars = Object.fromEntries(
    Object.entries(s).filter((e): e is [string, string] => e[1] !== undefined),
  );
  return { scalars, partitions };
}

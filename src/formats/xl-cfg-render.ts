/**
 * Writes domain configs. `renderGuestCfg` writes what xen-tools 4.9.2 writes for a new guest
 * (its /etc/xen-tools/xm.tmpl filled by xt-create-xen-config), byte for byte for the options
 * xen-tools has, so that users and scripts that know those files keep working. Where the output
 * differs, it is on purpose and covered by tests (test/formats/xl-cfg-render.test.ts):
 *
 *  1. `type        = 'pv'` (or pvh/hvm) right under the "Kernel + memory size" comment: today's
 *     xl wants the guest type; xen-tools relied on the old PV default.
 *  2. `maxvcpus    = 'N'` after `vcpus` when spec.maxvcpus is set (xen-tools has no such option).
 *  3. With DHCP, `vifname=` is kept in the vif (xm.tmpl drops --vifname when dhcp is on).
 *  4. qcow2 images (xen-tools only makes raw ones) use the modern disk syntax
 *     `format=qcow2, vdev=…, access=rw, target=…`: the old `file:` form would make xl read the
 *     image as raw. Raw images keep `file:` / `phy:`, which today's xl still accepts (the
 *     prefixes are stripped, xl-disk-configuration(5)). A path holding ',' or '=' is written in
 *     the modern syntax too, with `target=` last (xen-tools wrote it positionally, so the comma
 *     split the path and the rest became disk parameters).
 *  5. `extra` is spec.boot.extra when given (xen-tools always writes 'elevator=noop').
 *  6. The header comment names xenkit as the author ("by xenkit (xen-tools 4.9.2 format)").
 *  7. `--vlan=N` writes `bridge=BRIDGE.N,script=vif-openvswitch` (xm.tmpl computed the suffix
 *     and dropped it, so xen-tools' VLAN never reached xl).
 *  8. `--type=hvm` (xen-tools makes no HVM guests): `boot = 'c'` and `serial = 'pty'` in place of
 *     the kernel or bootloader, no `root` (the firmware boots the whole disk, whose extlinux
 *     names the root by UUID), the disks as whole devices xvda, xvdb, ... No `hdtype = 'ahci'`,
 *     though the firmware reads an AHCI disk much faster than xl's default IDE: the device model
 *     of Debian 12's Xen 4.17 (QEMU 7.2) unplugs only IDE disks when the guest's PV drivers take
 *     over, so the guest would see each disk twice (sda and xvda, the same UUIDs on both).
 *
 * Quirks kept because xl accepts them: `ip=A B ,mac=…` (xen-tools ends each address with a
 * space), quoted numbers, `on_crash = 'restart'`.
 *
 * `renderDomainConfig` writes the canonical xl.cfg of a DomainConfig (parseXlCfg reads it back
 * to the same value).
 */
import type { DomainConfig } from '../model/domain-config.js';
import {
  listGuestVolumes,
  volumeImageName,
  volumeLvName,
  type GuestVolumeEntry,
} from '../model/guest-volumes.js';
import type { GuestSpec } from '../model/guest-spec.js';
import { toMiB } from '../model/size.js';
import { domainConfigToValues } from './xl-cfg-domain.js';
import { quoteXlString, renderXlValues } from './xl-cfg-values.js';

/** The xen-tools release whose output renderGuestCfg reproduces. */
export const XEN_TOOLS_VERSION = '4.9.2';

export interface RenderGuestCfgOptions {
  /** Creation time for the header comment (default: now). */
  now?: Date;
  /** Write the time in UTC instead of local time (tests; xen-tools uses local time). */
  utc?: boolean;
}

/** One guest disk as xl sees it: target, guest device and format. */
export interface GuestDiskTarget {
  role: GuestVolumeEntry['role'];
  target: string;
  vdev: string;
  format: 'raw' | 'qcow2';
  /** `file:` or `phy:`: the prefix xen-tools writes. */
  prefix: 'file:' | 'phy:';
}

/**
 * Where a guest's disks live, as xen-tools names them: `DIR/domains/NAME/disk.img` and
 * `swap.img`, LVM `/dev/VG/HOSTNAME-disk` and `-swap` (a `--partitions` layout's section names
 * in place of disk and swap), or the devices given. Root first, then the others by falling
 * partition number, as xen-tools' xm.tmpl lists them.
 */
export function listGuestDiskTargets(spec: GuestSpec): GuestDiskTarget[] {
  const storage = spec.storage;
  if (storage.kind === 'device') {
    const disks: GuestDiskTarget[] = [
      { role: 'root', target: storage.imageDev, vdev: spec.disk.device, format: 'raw', prefix: 'phy:' },
    ];
    if (spec.swap && storage.swapDev)
      disks.push({
        role: 'swap',
        target: storage.swapDev,
        vdev: spec.swap.device,
        format: 'raw',
        prefix: 'phy:',
      });
    return disks;
  }
  const volumes = listGuestVolumes(spec);
  const ordered = [
    ...volumes.filter((v) => v.role === 'root'),
    ...volumes.filter((v) => v.role !== 'root').reverse(),
  ];
  return ordered.map((v) =>
    storage.kind === 'file'
      ? {
          role: v.role,
          target: `${storage.guestDir}/${volumeImageName(v.name)}`,
          vdev: v.device,
          format: storage.format,
          prefix: 'file:' as const,
        }
      : {
          role: v.role,
          // xen-tools names volumes after the hostname as given (fully qualified or not).
          target: `/dev/${storage.vg}/${volumeLvName(spec.hostname, v.name)}`,
          vdev: v.device,
          format: 'raw' as const,
          prefix: 'phy:' as const,
        },
  );
}

/** Perl's `scalar localtime`: `Fri Feb 13 23:31:30 2009`. */
export function formatPerlLocaltime(date: Date, utc = false): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const f = utc
    ? [
        date.getUTCDay(),
        date.getUTCMonth(),
        date.getUTCDate(),
        date.getUTCHours(),
        date.getUTCMinutes(),
        date.getUTCSeconds(),
        date.getUTCFullYear(),
      ]
    : [
        date.getDay(),
        date.getMonth(),
        date.getDate(),
        date.getHours(),
        date.getMinutes(),
        date.getSeconds(),
        date.getFullYear(),
      ];
  const [day, month, mday, h, m, s, year] = f as [number, number, number, number, number, number, number];
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${days[day]} ${months[month]} ${String(mday).padStart(2, ' ')} ${two(h)}:${two(m)}:${two(s)} ${year}`;
}

// Escapes a value for the inside of xm.tmpl's single quotes; the same text for ordinary values.
function q(text: string): string {
  return quoteXlString(text).slice(1, -1);
}

// In the positional form a ',' ends the target and an '=' makes it read as a key: a --dir of
// `/srv/x,backendtype=tap` would add a parameter. `target=` takes the rest of the spec verbatim,
// commas and all (xl-disk-configuration(5)), so such paths are written that way, last.
const UNSAFE_POSITIONAL = /[,=]/;

function diskLine(disk: GuestDiskTarget): string {
  const spec =
    disk.format === 'qcow2' || UNSAFE_POSITIONAL.test(disk.target)
      ? `format=${disk.format}, vdev=${disk.vdev}, access=rw, target=${disk.target}`
      : `${disk.prefix}${disk.target},${disk.vdev},w`;
  return `                  '${q(spec)}',\n`;
}

function renderDisks(spec: GuestSpec): { partitions: string; volumes: string } {
  const disks = listGuestDiskTargets(spec);
  const root = spec.boot.type === 'hvm' ? '' : `root        = '${q(spec.boot.rootDevice)} ro'\n`;
  const block = `${root}disk        = [\n${disks.map(diskLine).join('')}              ]\n`;
  // xm.tmpl writes devices given with --image-dev under "Physical volumes", the rest above.
  return spec.storage.kind === 'device'
    ? { partitions: '', volumes: block }
    : { partitions: block, volumes: '' };
}

function renderNetwork(spec: GuestSpec): string {
  const net = spec.network;
  const pairs: string[] = [];
  if (net.mode === 'static') pairs.push(`ip=${net.addresses.map((a) => `${a.address} `).join('')}`);
  if (net.mac) pairs.push(`mac=${net.mac}`);
  if (net.vifname) pairs.push(`vifname=${net.vifname}`);
  // --vlan: Xen's vif-openvswitch reads BRIDGE.TAG and adds the port with that tag.
  if (net.bridge && net.vlan !== undefined)
    pairs.push(`bridge=${net.bridge}.${net.vlan}`, 'script=vif-openvswitch');
  else if (net.bridge) pairs.push(`bridge=${net.bridge}`);
  const dhcp = net.mode === 'dhcp' ? "dhcp        = 'dhcp'\n" : '';
  return `${dhcp}vif         = [ '${q(pairs.join(','))}' ]`;
}

/** The domain config xen-tools 4.9.2 writes for this guest, plus the modern keys listed above. */
export function renderGuestCfg(spec: GuestSpec, options: RenderGuestCfgOptions = {}): string {
  const boot = spec.boot;
  const hasBootloader = boot.useGuestKernel && boot.type !== 'hvm';
  const direct = !boot.useGuestKernel && boot.type !== 'hvm';
  const kernel =
    direct && boot.kernel
      ? `kernel      = '${q(boot.kernel)}'\nextra       = '${q(boot.extra ?? 'elevator=noop')}'`
      : '';
  const initrd = direct && boot.kernel && boot.initrd ? `ramdisk     = '${q(boot.initrd)}'` : '';
  const pygrub = hasBootloader ? "bootloader = 'pygrub'\n" : '';
  // HVM: the firmware boots the disk; the serial port is the console (`xl console`, a login).
  const firmware = boot.type === 'hvm' ? "boot        = 'c'\nserial      = 'pty'\n" : '';
  const maxvcpus = spec.maxvcpus === undefined ? '' : `maxvcpus    = '${spec.maxvcpus}'\n`;
  const maxmem = spec.maxmem === undefined ? '' : `maxmem      = '${toMiB(spec.maxmem)}'\n`;
  const admins =
    spec.accounts.admins.length > 0 ? `xen_shell = '${q(spec.accounts.admins.join(','))}'\n` : '';
  const { partitions, volumes } = renderDisks(spec);
  const date = formatPerlLocaltime(options.now ?? new Date(), options.utc);
  return `#
# Configuration file for the Xen instance ${spec.hostname}, created
# by xenkit (xen-tools ${XEN_TOOLS_VERSION} format) on ${date}.
#

#
#  Kernel + memory size
#
type        = '${boot.type}'
${kernel}
${initrd}
${pygrub}${firmware}
vcpus       = '${spec.vcpus}'
${maxvcpus}memory      = '${toMiB(spec.memory)}'
${maxmem}

#
#  Disk device(s).
#
${partitions}

#
#  Physical volumes
#
${volumes}

#
#  Hostname
#
name        = '${q(spec.hostname)}'

#
#  Networking
#
${renderNetwork(spec)}

#
#  Behaviour
#
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'


${admins}
`;
}

/** The canonical xl.cfg of a DomainConfig: parseXlCfg(renderDomainConfig(dc)) equals dc when
 * dc.raw holds the same canonical values (as any parsed DomainConfig's does after one round). */
export function renderDomainConfig(dc: DomainConfig): string {
  return renderXlValues(domainConfigToValues(dc));
}

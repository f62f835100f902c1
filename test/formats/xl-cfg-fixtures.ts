/**
 * Test helper: a GuestSpec from xen-create-image options (the option sets of
 * test/golden/xl-cfg/*.json), following xen-tools 4.9.2's rules for what reaches the domain
 * config: its defaults (memory 96Mb, vcpus 1, xvda), the swap-then-root partition order
 * (root is xvda2, or xvda1 with --noswap; always xvda2 with --image-dev), its MAC derivation.
 * Deliberately independent of src/config (the real option pipeline), so these tests pin the
 * renderer alone.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeSpec } from '../helpers/customize-fixtures.js';
import type { GuestSpec, StorageSpec } from '../../src/model/guest-spec.js';
import { deriveXenToolsMac, parseMac } from '../../src/model/mac.js';
import { parseSize } from '../../src/model/size.js';

/** xen-create-image options as written in the golden option sets. */
export interface XenToolsOptions {
  hostname: string;
  dist?: string;
  dir?: string;
  lvm?: string;
  'image-dev'?: string;
  'swap-dev'?: string;
  image?: 'sparse' | 'full';
  size?: string;
  swap?: string;
  noswap?: boolean;
  memory?: string;
  maxmem?: string;
  vcpus?: string;
  kernel?: string;
  initrd?: string;
  pygrub?: boolean;
  dhcp?: boolean;
  ip?: string[];
  netmask?: string;
  gateway?: string;
  broadcast?: string;
  mac?: string;
  bridge?: string;
  vifname?: string;
}

/** The golden directory test/golden/xl-cfg. */
export const GOLDEN_DIR = fileURLToPath(new URL('../golden/xl-cfg/', import.meta.url));

/** Reads test/golden/xl-cfg/NAME (an option set .json or a .cfg). */
export function readGolden(name: string): string {
  return readFileSync(`${GOLDEN_DIR}${name}`, 'utf8');
}

function prefixOf(netmask: string | undefined): number {
  if (!netmask) return 24;
  return netmask
    .split('.')
    .map((octet) => Number(octet).toString(2))
    .join('')
    .replace(/0/g, '').length;
}

/** Builds the GuestSpec xen-tools would act on for these options. */
export function guestSpecFromXenToolsOptions(o: XenToolsOptions): GuestSpec {
  const name = o.hostname.split('.')[0] as string;
  const dist = o.dist ?? 'stable';
  const ips = o.ip ?? [];
  const dhcp = o.dhcp === true;
  const hasSwap = !o.noswap && (o['image-dev'] === undefined || o['swap-dev'] !== undefined);
  const rootDevice = o['image-dev'] !== undefined || !o.noswap ? 'xvda2' : 'xvda1';
  const dir = o.dir ?? '';
  let storage: StorageSpec;
  if (o.lvm) storage = { kind: 'lvm', vg: o.lvm, thinPool: undefined };
  else if (o['image-dev']) storage = { kind: 'device', imageDev: o['image-dev'], swapDev: o['swap-dev'] };
  else {
    const guestDir = `${dir}/domains/${o.hostname}`;
    storage = { kind: 'file', dir, guestDir, allocation: o.image ?? 'sparse', format: 'raw' };
  }
  // Accounts, install defaults and hooks as any other test guest; the rest from the options.
  const base = makeSpec();
  return {
    name,
    hostname: o.hostname,
    domain: o.hostname.includes('.') ? o.hostname.slice(name.length + 1) : undefined,
    memory: parseSize(o.memory ?? '96Mb', 'memory'),
    maxmem: o.maxmem === undefined ? undefined : parseSize(o.maxmem, 'maxmem'),
    vcpus: Number(o.vcpus ?? '1'),
    maxvcpus: undefined,
    storage,
    disk: {
      size: parseSize(o.size ?? '2000Mb', 'size'),
      fs: 'ext3',
      mountOptions: 'errors=remount-ro',
      mkfsCommand: undefined,
      format: true,
      device: rootDevice,
    },
    swap: hasSwap ? { size: parseSize(o.swap ?? '128M', 'swap'), device: 'xvda1' } : undefined,
    network: {
      mac: o.mac ? parseMac(o.mac) : deriveXenToolsMac({ hostname: o.hostname, ips, dhcp, dist }),
      macSource: o.mac ? 'given' : 'derived',
      mode: dhcp ? 'dhcp' : 'static',
      addresses: ips.map((address) => ({ address, prefix: prefixOf(o.netmask) })),
      gateway: o.gateway,
      broadcast: o.broadcast,
      p2p: undefined,
      nameservers: [],
      bridge: o.bridge,
      vifname: o.vifname,
      vlan: undefined,
      autoIp: false,
    },
    accounts: base.accounts,
    install: { ...base.install, method: 'debootstrap', dist },
    boot: {
      type: 'pv',
      useGuestKernel: o.pygrub === true,
      kernel: o.kernel || undefined,
      initrd: o.initrd || undefined,
      modules: undefined,
      rootDevice: `/dev/${rootDevice}`,
      extra: undefined,
      serialDevice: 'hvc0',
    },
    hooks: base.hooks,
    output: {
      dir: '/etc/xen',
      extension: '.cfg',
      cfgPath: `/etc/xen/${o.hostname}.cfg`,
      template: undefined,
      logPath: `/var/log/xen-tools/${o.hostname}.log`,
    },
    startAfter: false,
    force: false,
    keep: false,
    copyHosts: false,
    updateHostHosts: true,
  };
}

/** The instant the golden files were rendered at (scripts/golden/xen-tools-cfg.pl, TZ=UTC). */
export const GOLDEN_NOW = new Date(1234567890 * 1000);

/** What renderGuestCfg changes in xen-tools' output for these options: the author in the header, the type line. */
export function addTypeLine(xenToolsOutput: string, type = 'pv'): string {
  const anchor = '#\n#  Kernel + memory size\n#\n';
  return xenToolsOutput
    .replace(/^# by xen-tools (\S+) on /m, '# by xenkit (xen-tools $1 format) on ')
    .replace(anchor, `${anchor}type        = '${type}'\n`);
}

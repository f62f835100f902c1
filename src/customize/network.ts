/**
 * The guest's network, matched by MAC and never by interface name: the same NIC is eth0 under old
 * Xen PV kernels, enX0 under Xen with Linux 6.x and ens3 under QEMU. Writes a systemd-networkd
 * .network file (Debian) or a netplan YAML (Ubuntu), as the distribution table says.
 */
import type { Distribution } from '../config/distributions.js';
import { runtimeError } from '../errors.js';
import type { NetworkSpec, StaticAddress } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import type { IdentitySpec } from './types.js';

export const NETWORKD_FILE = '/etc/systemd/network/10-xenkit.network';
export const NETPLAN_FILE = '/etc/netplan/01-xenkit.yaml';

const HEADER = '# Written by xenkit: matched by MAC so it works whatever the kernel names the NIC.';

/** The network config file for the guest, or undefined when the network is not configured (`none`). */
export function renderNetworkConfig(
  spec: IdentitySpec,
  dist: Distribution,
): { path: string; content: string; mode: number } | undefined {
  const net = spec.network;
  if (net.mode === 'none') return undefined;
  if (net.mode === 'static' && net.addresses.length === 0) {
    throw runtimeError('E_NETWORK', `guest "${spec.name}": static network without an address`, 'give --ip');
  }
  return dist.networkWriter === 'netplan'
    ? { path: NETPLAN_FILE, content: renderNetplan(net), mode: 0o600 }
    : { path: NETWORKD_FILE, content: renderNetworkd(net), mode: 0o644 };
}

/** Renders a systemd-networkd .network file for the NIC with the guest's MAC. */
export function renderNetworkd(net: NetworkSpec): string {
  const lines = [HEADER, '[Match]', `MACAddress=${net.mac.toLowerCase()}`, '', '[Network]'];
  if (net.mode === 'dhcp') {
    lines.push('DHCP=yes');
    for (const dns of net.nameservers) lines.push(`DNS=${dns}`);
    return `${lines.join('\n')}\n`;
  }
  const gateway = effectiveGateway(net);
  if (gateway) lines.push(`Gateway=${gateway}`);
  if (gateway && !isOnLink(gateway, net)) lines.push('GatewayOnLink=yes');
  for (const dns of net.nameservers) lines.push(`DNS=${dns}`);
  net.addresses.forEach((a, index) => {
    lines.push('', '[Address]', `Address=${a.address}/${a.prefix}`);
    if (index === 0 && net.broadcast) lines.push(`Broadcast=${net.broadcast}`);
    if (index === 0 && net.p2p) lines.push(`Peer=${net.p2p}/${isIpv6(net.p2p) ? 128 : 32}`);
  });
  return `${lines.join('\n')}\n`;
}

/** Renders a netplan file (networkd renderer) matching the NIC by MAC. */
export function renderNetplan(net: NetworkSpec): string {
  const lines = [
    HEADER,
    'network:',
    '  version: 2',
    '  renderer: networkd',
    '  ethernets:',
    '    xenkit0:',
    '      match:',
    `        macaddress: "${net.mac.toLowerCase()}"`,
  ];
  if (net.mode === 'dhcp') {
    lines.push('      dhcp4: true');
  } else {
    lines.push('      addresses:', ...net.addresses.map((a) => `        - "${a.address}/${a.prefix}"`));
    const gateway = effectiveGateway(net);
    if (gateway) {
      lines.push('      routes:', '        - to: default', `          via: "${gateway}"`);
      if (!isOnLink(gateway, net)) lines.push('          on-link: true');
    }
  }
  if (net.nameservers.length > 0) {
    lines.push(
      '      nameservers:',
      `        addresses: [${net.nameservers.map((n) => `"${n}"`).join(', ')}]`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A point-to-point link routes through its peer when no gateway is given (xen-tools' p2p use). */
function effectiveGateway(net: NetworkSpec): string | undefined {
  return net.gateway ?? net.p2p;
}

/** Whether a gateway is inside one of the guest's IPv4 subnets (else it must be marked on-link). */
function isOnLink(gateway: string, net: NetworkSpec): boolean {
  if (isIpv6(gateway)) return true;
  if (net.p2p && gateway === net.p2p) return false;
  const gw = ipv4ToNumber(gateway);
  return net.addresses.some((a: StaticAddress) => {
    if (isIpv6(a.address) || gw === undefined) return false;
    const ip = ipv4ToNumber(a.address);
    const mask = a.prefix === 0 ? 0 : (0xffffffff << (32 - a.prefix)) >>> 0;
    return ip !== undefined && (ip & mask) >>> 0 === (gw & mask) >>> 0;
  });
}

/** Dotted netmask of an IPv4 prefix length (24 -> 255.255.255.0). */
export function prefixToNetmask(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.');
}

function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

function isIpv6(address: string): boolean {
  return address.includes(':');
}

/**
 * Renders a static /etc/resolv.conf: the guest's nameservers, else the host's file without its
 * loopback resolvers (127.0.0.53 on the host is not a resolver inside the guest).
 */
export function renderResolvConf(spec: IdentitySpec, hostResolvConf: string | undefined): string {
  const lines = ['# Written by xenkit.'];
  if (spec.domain) lines.push(`search ${spec.domain}`);
  if (spec.network.nameservers.length > 0) {
    for (const ns of spec.network.nameservers) lines.push(`nameserver ${ns}`);
    return `${lines.join('\n')}\n`;
  }
  for (const raw of (hostResolvConf ?? '').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [key, value = ''] = line.split(/\s+/);
    if (key === 'nameserver' && (value.startsWith('127.') || value === '::1')) continue;
    if (key === 'search' && spec.domain) continue;
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}

/** Notes for the plan that explain choices not visible in files (VLAN, no network). */
export function networkNotes(spec: IdentitySpec): PlanAction[] {
  const notes: PlanAction[] = [];
  if (spec.network.mode === 'none') {
    notes.push({ kind: 'note', text: 'network: none requested, no network configuration written' });
  }
  if (spec.network.vlan !== undefined) {
    notes.push({
      kind: 'note',
      text:
        `network: VLAN ${spec.network.vlan} is tagged on the host under xl (vif bridge=${spec.network.bridge ?? 'BRIDGE'}.${spec.network.vlan},script=vif-openvswitch: ` +
        'an Open vSwitch port with that tag); the guest sees an untagged NIC; the QEMU driver refuses such a vif',
    });
  }
  return notes;
}

/**
 * The network of an existing guest, read back from what xenkit wrote into it (the MAC-matched
 * systemd-networkd file) and from its cfg, so a clone keeps the gateway and resolvers it had.
 */
import type { DomainConfig } from '../model/domain-config.js';
import type { StaticAddress } from '../model/guest-spec.js';

/** What a guest's network looks like today. */
export interface GuestNetwork {
  mode: 'dhcp' | 'static' | 'none';
  mac: string | undefined;
  addresses: StaticAddress[];
  gateway: string | undefined;
  broadcast: string | undefined;
  nameservers: string[];
}

/** Parses the `[Match]`/`[Network]`/`[Address]` keys of a systemd-networkd .network file. */
export function parseNetworkdFile(text: string): GuestNetwork {
  const net: GuestNetwork = {
    mode: 'static',
    mac: undefined,
    addresses: [],
    gateway: undefined,
    broadcast: undefined,
    nameservers: [],
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'MACAddress') net.mac = value.toUpperCase();
    else if (key === 'DHCP' && /^(yes|true|ipv4|ipv6|both)$/i.test(value)) net.mode = 'dhcp';
    else if (key === 'Gateway') net.gateway = value;
    else if (key === 'DNS') net.nameservers.push(value);
    else if (key === 'Broadcast') net.broadcast = value;
    else if (key === 'Address') {
      const [address = '', prefix] = value.split('/');
      net.addresses.push({
        address,
        prefix: prefix === undefined ? (address.includes(':') ? 128 : 32) : Number(prefix),
      });
    }
  }
  if (net.mode !== 'dhcp' && net.addresses.length === 0) net.mode = 'none';
  return net;
}

/** The network a cfg describes: `dhcp = 'dhcp'` or the vif's `ip=`, and the first vif's MAC. */
export function networkFromCfg(config: DomainConfig): GuestNetwork {
  const vif = config.vifs[0];
  const ips = (vif?.ip ?? '').split(/[\s,]+/).filter(Boolean);
  const isDhcp = String(config.raw['dhcp'] ?? '') === 'dhcp';
  return {
    mode: isDhcp ? 'dhcp' : ips.length > 0 ? 'static' : vif ? 'dhcp' : 'none',
    mac: vif?.mac?.toUpperCase(),
    addresses: ips.map((address) => ({ address, prefix: address.includes(':') ? 128 : 32 })),
    gateway: undefined,
    broadcast: undefined,
    nameservers: [],
  };
}

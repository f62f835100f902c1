/** Validation of the guest's network settings: addresses, netmask, gateway, broadcast, MAC, VLAN. */
import { deriveXenToolsMac, parseMac, randomXenMac } from '../model/mac.js';
import type { NetworkSpec, StaticAddress } from '../model/guest-spec.js';
import {
  broadcastOf,
  describeUnusableHost,
  isInNetwork,
  parseIp,
  parseIpWithPrefix,
  prefixFromNetmask,
  type IpAddress,
} from '../model/net-address.js';
import type { PoolAddress } from './ips-file.js';
import type { SettingsReader } from './settings-reader.js';
import { isSameLayer } from './settings.js';

/** What the network validation needs besides the settings. */
export interface NetworkContext {
  hostname: string | undefined;
  /** The dist setting as the user wrote it (the MAC derivation hashes it as is). */
  rawDist: string;
  /** Picks a free address for `--ip=auto` (reads the ips file; claims nothing); records its own errors. */
  pickAutoIp: () => Promise<PoolAddress | undefined>;
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

function parseAddressOf(r: SettingsReader, key: string, text: string): IpAddress | undefined {
  return r.errors.attempt(() => parseIp(text, r.what(key)));
}

/** Validates network settings into a NetworkSpec; undefined when something was wrong. */
export async function validateNetwork(
  r: SettingsReader,
  ctx: NetworkContext,
): Promise<NetworkSpec | undefined> {
  const before = r.errors.errors.length;
  const rawIps = r.list('ip');
  const dhcp = r.bool('dhcp') ?? false;
  if (dhcp && rawIps.length > 0) {
    r.errors.add(
      'E_NETWORK',
      `${r.what('dhcp')} and ${r.what('ip')} "${rawIps.join(' ')}" both given`,
      'choose one: --dhcp, or --ip=ADDRESS (xen-tools refuses both too)',
    );
  } else if (!dhcp && rawIps.length === 0) {
    r.errors.add(
      'E_NETWORK',
      'neither --ip nor --dhcp given',
      'add --dhcp, --ip=ADDRESS[/PREFIX] or --ip=auto',
    );
  }

  for (const key of ['gateway', 'netmask', 'broadcast']) {
    if (dhcp && r.string(key) !== undefined && isSameLayer(r.get('dhcp'), r.get(key))) {
      r.warnings.push(`${r.what(key)} is ignored with ${r.what('dhcp')}: DHCP supplies it`);
    }
  }
  const netmaskText = r.string('netmask');
  const netmask =
    netmaskText === undefined
      ? undefined
      : r.errors.attempt(() => prefixFromNetmask(netmaskText, r.what('netmask')));

  const addresses: StaticAddress[] = [];
  const parsed: { address: IpAddress; prefix: number }[] = [];
  let autoIp = false;
  for (const raw of dhcp ? [] : rawIps) {
    if (raw.toLowerCase() === 'auto') {
      if (autoIp) {
        r.errors.add('E_IP', `${r.what('ip')} "auto" given twice`, 'one --ip=auto takes one address');
        continue;
      }
      autoIp = true;
      const picked = await ctx.pickAutoIp();
      const address = picked && parseAddressOf(r, 'ip', picked.address);
      if (!picked || !address) continue;
      const prefix =
        picked.prefix ?? (address.family === 4 ? netmask : undefined) ?? (address.family === 4 ? 24 : 64);
      addresses.push({ address: address.text, prefix, pool: picked.file });
      parsed.push({ address, prefix });
      continue;
    }
    const result = r.errors.attempt(() => parseIpWithPrefix(raw, r.what('ip')));
    if (!result) continue;
    const { address } = result;
    const defaultPrefix = address.family === 4 ? 24 : 64;
    const prefix = result.prefix ?? (address.family === 4 ? netmask : undefined) ?? defaultPrefix;
    if (result.prefix === undefined && !(address.family === 4 && netmask !== undefined)) {
      r.warnings.push(`${r.what('ip')} "${raw}": no netmask given, assuming /${defaultPrefix}`);
    }
    const unusable = describeUnusableHost(address, prefix);
    if (unusable) {
      r.errors.add('E_IP', `${r.what('ip')} "${raw}" ${unusable}`, 'give the address of the guest itself');
      continue;
    }
    if (addresses.some((a) => a.address === address.text)) {
      r.errors.add('E_IP', `${r.what('ip')} "${raw}" is given twice`, 'give each address once');
      continue;
    }
    addresses.push({ address: address.text, prefix });
    parsed.push({ address, prefix });
  }
  const first = parsed[0];

  const gatewayText = r.string('gateway');
  let gateway: string | undefined;
  if (gatewayText !== undefined && !dhcp) {
    const address = parseAddressOf(r, 'gateway', gatewayText);
    if (address && first && !isInNetwork(address, first.address, first.prefix)) {
      r.fail(
        'gateway',
        'E_GATEWAY',
        `is not in the network of ${first.address.text}/${first.prefix}`,
        "the gateway must be reachable on the guest's own subnet; check --ip and --netmask",
      );
    } else if (address && first && address.value === first.address.value) {
      r.fail('gateway', 'E_GATEWAY', "is the guest's own address", "give the router's address");
    } else if (address) gateway = address.text;
  } else if (!dhcp && rawIps.length > 0) {
    r.warnings.push('no gateway given: the guest will reach only its own subnet');
  }

  const broadcastText = r.string('broadcast');
  let broadcast: string | undefined;
  if (broadcastText !== undefined && !dhcp) {
    const address = parseAddressOf(r, 'broadcast', broadcastText);
    if (address && first && first.address.family === 4) {
      const expected = broadcastOf(first.address, first.prefix);
      if (address.value !== expected.value) {
        r.fail(
          'broadcast',
          'E_BROADCAST',
          `does not match ${first.address.text}/${first.prefix}`,
          `its broadcast address is ${expected.text}; or leave --broadcast out`,
        );
      } else broadcast = address.text;
    } else if (address && first) {
      r.fail(
        'broadcast',
        'E_BROADCAST',
        'is given for an IPv6 address',
        'IPv6 has no broadcast: leave --broadcast out',
      );
    } else if (address) broadcast = address.text;
  }

  const p2pText = r.string('p2p');
  const p2p = p2pText === undefined ? undefined : parseAddressOf(r, 'p2p', p2pText)?.text;

  const nameservers: string[] = [];
  for (const item of r.list('nameserver')) {
    const address = r.errors.attempt(() => parseIp(item, r.what('nameserver')));
    if (address) nameservers.push(address.text);
  }

  const vlanText = r.string('vlan');
  let vlan: number | undefined;
  if (vlanText !== undefined) vlan = r.int('vlan', 1, 4094);

  const bridge = r.string('bridge');
  if (bridge !== undefined && !IFNAME_RE.test(bridge)) {
    r.fail('bridge', 'E_IFNAME', 'is not an interface name', 'up to 15 letters, digits, "_", "-" or "."');
  }
  // xl tags a vif through Xen's vif-openvswitch script and a bridge written BRIDGE.TAG; without
  // a bridge there is nothing to tag. (xen-tools 4.9.2 built the ".TAG" suffix and never wrote it.)
  if (vlanText !== undefined && bridge === undefined) {
    r.errors.add(
      'E_VLAN',
      `${r.what('vlan')} needs --bridge: the VLAN tag is set on an Open vSwitch bridge port`,
      'add --bridge=OVS_BRIDGE (the cfg gets bridge=OVS_BRIDGE.TAG,script=vif-openvswitch), or drop --vlan',
    );
  } else if (vlanText !== undefined && bridge?.includes('.')) {
    r.errors.add(
      'E_VLAN',
      `${r.what('vlan')} with ${r.what('bridge')} "${bridge}": vif-openvswitch reads a "." in the bridge as the tag`,
      'name the Open vSwitch bridge without a dot',
    );
  }
  const vifname = r.string('vifname');
  if (vifname !== undefined && !IFNAME_RE.test(vifname)) {
    r.fail('vifname', 'E_IFNAME', 'is not an interface name', 'up to 15 letters, digits, "_", "-" or "."');
  }

  const macText = r.string('mac');
  if (macText !== undefined && r.bool('randommac')) {
    r.errors.add(
      'E_CONFLICT',
      `${r.what('mac')} "${macText}" and ${r.what('randommac')} both given`,
      'choose one: --mac=MAC for a fixed address, or --randommac for a random one',
    );
  }
  let mac: string | undefined;
  let macSource: NetworkSpec['macSource'] = 'derived';
  if (macText !== undefined) {
    mac = r.errors.attempt(() => parseMac(macText, r.what('mac')));
    macSource = 'given';
  } else if (r.bool('randommac')) {
    mac = randomXenMac();
    macSource = 'random';
  } else if (ctx.hostname !== undefined) {
    // The same inputs xen-tools hashes, as it holds them: the --ip texts as typed ("auto"
    // included: it derives the MAC before claiming), dhcp, and the dist as written.
    mac = deriveXenToolsMac({ hostname: ctx.hostname, ips: dhcp ? [] : rawIps, dhcp, dist: ctx.rawDist });
  }

  if (r.errors.errors.length > before || mac === undefined) return undefined;
  return {
    mac,
    macSource,
    mode: dhcp ? 'dhcp' : 'static',
    addresses,
    gateway,
    broadcast,
    p2p,
    nameservers,
    bridge,
    vifname,
    vlan,
    autoIp,
  };
}

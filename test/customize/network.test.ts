import { describe, expect, it } from 'vitest';
import { findDistribution, type Distribution } from '../../src/config/distributions.js';
import {
  networkNotes,
  prefixToNetmask,
  renderNetplan,
  renderNetworkConfig,
  renderNetworkd,
  renderResolvConf,
} from '../../src/customize/network.js';
import { makeSpec } from '../helpers/customize-fixtures.js';

function dist(release: string): Distribution {
  const d = findDistribution(release);
  if (!d) throw new Error(release);
  return d;
}

describe('renderNetworkd', () => {
  it('matches the NIC by MAC and never names an interface', () => {
    const text = renderNetworkd(makeSpec().network);
    expect(text).toContain('[Match]\nMACAddress=00:16:3e:12:34:56\n');
    expect(text).not.toMatch(/Name=|eth0|enX0|ens3/);
  });

  it('configures DHCP only when asked', () => {
    expect(renderNetworkd(makeSpec({}, { mode: 'dhcp', addresses: [] }).network)).toContain('DHCP=yes');
    expect(renderNetworkd(makeSpec().network)).not.toContain('DHCP');
  });

  it('writes every static address with its prefix, the gateway, broadcast and DNS', () => {
    const text = renderNetworkd(
      makeSpec(
        {},
        {
          addresses: [
            { address: '192.168.1.10', prefix: 24 },
            { address: '2001:db8::10', prefix: 64 },
          ],
        },
      ).network,
    );
    expect(text).toContain('Gateway=192.168.1.1\n');
    expect(text).not.toContain('GatewayOnLink');
    expect(text).toContain('DNS=192.168.1.53\n');
    expect(text).toContain('[Address]\nAddress=192.168.1.10/24\nBroadcast=192.168.1.255\n');
    expect(text).toContain('[Address]\nAddress=2001:db8::10/64\n');
  });

  it('routes a point-to-point link through its peer', () => {
    const text = renderNetworkd(
      makeSpec(
        {},
        {
          addresses: [{ address: '10.9.0.2', prefix: 32 }],
          gateway: undefined,
          broadcast: undefined,
          p2p: '10.9.0.1',
        },
      ).network,
    );
    expect(text).toContain('Peer=10.9.0.1/32');
    expect(text).toContain('Gateway=10.9.0.1\nGatewayOnLink=yes');
  });

  it('marks a gateway outside every subnet as on-link', () => {
    expect(renderNetworkd(makeSpec({}, { gateway: '10.0.0.1' }).network)).toContain('GatewayOnLink=yes');
  });
});

describe('renderNetplan', () => {
  it('matches by macaddress with static addresses and a default route', () => {
    const text = renderNetplan(makeSpec().network);
    expect(text).toContain('match:\n        macaddress: "00:16:3e:12:34:56"');
    expect(text).toContain('- "192.168.1.10/24"');
    expect(text).toContain('- to: default\n          via: "192.168.1.1"');
    expect(text).toContain('addresses: ["192.168.1.53"]');
  });

  it('turns on dhcp4 for a DHCP guest', () => {
    expect(renderNetplan(makeSpec({}, { mode: 'dhcp', addresses: [] }).network)).toContain('dhcp4: true');
  });
});

describe('renderNetworkConfig', () => {
  it.each([
    ['bookworm', '/etc/systemd/network/10-xenkit.network', 0o644],
    ['noble', '/etc/netplan/01-xenkit.yaml', 0o600],
  ])('picks the writer of %s from the distribution table', (release, path, mode) => {
    const config = renderNetworkConfig(makeSpec(), dist(release));
    expect(config?.path).toBe(path);
    expect(config?.mode).toBe(mode);
  });

  it('writes nothing for network mode none', () => {
    expect(
      renderNetworkConfig(makeSpec({}, { mode: 'none', addresses: [] }), dist('bookworm')),
    ).toBeUndefined();
  });

  it('refuses a static network without an address, naming the guest', () => {
    expect(() => renderNetworkConfig(makeSpec({}, { addresses: [] }), dist('bookworm'))).toThrow(
      /guest "web1"/,
    );
  });
});

describe('renderResolvConf', () => {
  it('lists the given nameservers and the search domain', () => {
    expect(renderResolvConf(makeSpec(), 'nameserver 9.9.9.9\n')).toBe(
      '# Written by xenkit.\nsearch example.org\nnameserver 192.168.1.53\n',
    );
  });

  it("copies the host's resolvers without its loopback ones", () => {
    const text = renderResolvConf(
      makeSpec({}, { nameservers: [] }),
      'nameserver 127.0.0.53\nnameserver 9.9.9.9\noptions edns0\n',
    );
    expect(text).toContain('nameserver 9.9.9.9');
    expect(text).toContain('options edns0');
    expect(text).not.toContain('127.0.0.53');
  });
});

describe('networkNotes', () => {
  it('explains that a VLAN is tagged on the host side', () => {
    expect(networkNotes(makeSpec({}, { vlan: 42, bridge: 'ovs0' }))[0]).toMatchObject({
      kind: 'note',
      text: expect.stringContaining('bridge=ovs0.42,script=vif-openvswitch'),
    });
  });
});

describe('prefixToNetmask', () => {
  it.each([
    [24, '255.255.255.0'],
    [32, '255.255.255.255'],
    [0, '0.0.0.0'],
    [20, '255.255.240.0'],
  ])('turns /%d into %s', (prefix, mask) => {
    expect(prefixToNetmask(prefix)).toBe(mask);
  });
});

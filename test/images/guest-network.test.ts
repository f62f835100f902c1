import { describe, expect, it } from 'vitest';
import { renderNetworkd } from '../../src/customize/network.js';
import { networkFromCfg, parseNetworkdFile } from '../../src/images/guest-network.js';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import type { NetworkSpec } from '../../src/model/guest-spec.js';

const base: NetworkSpec = {
  mac: '00:16:3E:12:34:56',
  macSource: 'given',
  mode: 'dhcp',
  addresses: [],
  gateway: undefined,
  broadcast: undefined,
  p2p: undefined,
  nameservers: [],
  bridge: undefined,
  vifname: undefined,
  vlan: undefined,
  autoIp: false,
};

describe('parseNetworkdFile', () => {
  it.each<[string, Partial<NetworkSpec>]>([
    ['DHCP', { mode: 'dhcp' }],
    ['DHCP with resolvers', { mode: 'dhcp', nameservers: ['192.0.2.53'] }],
    [
      'one static address',
      { mode: 'static', addresses: [{ address: '192.168.1.20', prefix: 24 }], gateway: '192.168.1.1' },
    ],
    [
      'two addresses and resolvers',
      {
        mode: 'static',
        addresses: [
          { address: '10.0.0.5', prefix: 8 },
          { address: '2001:db8::5', prefix: 64 },
        ],
        gateway: '10.0.0.1',
        nameservers: ['10.0.0.53', '10.0.0.54'],
      },
    ],
  ])('reads back what renderNetworkd wrote: %s', (_name, spec) => {
    const net = { ...base, ...spec };
    const read = parseNetworkdFile(renderNetworkd(net));
    expect(read).toMatchObject({
      mode: net.mode,
      mac: net.mac,
      addresses: net.addresses,
      gateway: net.gateway,
      nameservers: net.nameservers,
    });
  });

  it('calls a file without DHCP or addresses no network', () => {
    expect(parseNetworkdFile('[Match]\nMACAddress=00:16:3e:00:00:01\n').mode).toBe('none');
  });
});

describe('networkFromCfg', () => {
  it.each([
    ["name='a'\ndhcp='dhcp'\nvif=['mac=00:16:3E:E1:F3:41,bridge=xenbr0']\n", 'dhcp', [], '00:16:3E:E1:F3:41'],
    [
      "name='a'\nvif=['ip=10.0.0.5 10.0.0.6 ,mac=00:16:3E:E7:9A:25']\n",
      'static',
      ['10.0.0.5', '10.0.0.6'],
      '00:16:3E:E7:9A:25',
    ],
    ["name='a'\n", 'none', [], undefined],
  ])('reads the mode, addresses and MAC of a cfg (%#)', (text, mode, ips, mac) => {
    const net = networkFromCfg(parseXlCfg(text));
    expect([net.mode, net.addresses.map((a) => a.address), net.mac]).toEqual([mode, ips, mac]);
  });
});

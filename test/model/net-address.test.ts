import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, XenkitError } from '../../src/errors.js';
import {
  broadcastOf,
  describeUnusableHost,
  isInNetwork,
  netmaskFromPrefix,
  networkOf,
  parseIp,
  parseIpWithPrefix,
  prefixFromNetmask,
} from '../../src/model/net-address.js';

function hasPython(): boolean {
  try {
    execFileSync('python3', ['-c', 'import ipaddress'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Python's ipaddress module, run on many inputs at once: the reference implementation. */
function pythonNetworks(
  items: { address: string; prefix: number }[],
): { canonical: string; network: string; broadcast: string }[] {
  const script = `
import ipaddress, json, sys
out = []
for item in json.load(sys.stdin):
    iface = ipaddress.ip_interface(f"{item['address']}/{item['prefix']}")
    out.append({"canonical": str(iface.ip), "network": str(iface.network.network_address),
                "broadcast": str(iface.network.broadcast_address)})
print(json.dumps(out))`;
  const out = execFileSync('python3', ['-c', script], { input: JSON.stringify(items), encoding: 'utf8' });
  return JSON.parse(out) as { canonical: string; network: string; broadcast: string }[];
}

describe('parseIp', () => {
  it.each([
    ['192.168.1.10', 4, '192.168.1.10'],
    ['2001:DB8::1', 6, '2001:db8::1'],
    ['::', 6, '::'],
    ['::ffff:10.0.0.1', 6, '::ffff:a00:1'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['1:2:3:4:5:6:7:8', 6, '1:2:3:4:5:6:7:8'],
  ])('parses %s', (text, family, canonical) => {
    const ip = parseIp(text, '--ip');
    expect(ip.family).toBe(family);
    expect(ip.text).toBe(canonical);
  });

  it.each([
    '1.2.3',
    '256.1.1.1',
    '01.2.3.4',
    ' 1.2.3.4',
    'fe80::1%eth0',
    'example.org',
    '',
    '1.2.3.4.5',
    ':::',
  ])('rejects %j as a usage error naming the input', (text) => {
    const error = (() => {
      try {
        parseIp(text, '--ip');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(XenkitError);
    expect((error as XenkitError).message).toContain(`--ip "${text}"`);
    expect((error as XenkitError).hint).toBeTruthy();
    expect(exitCodeFor(error)).toBe(2);
  });

  it('reads a prefix length and refuses one too long', () => {
    expect(parseIpWithPrefix('10.0.0.5/8', 'x').prefix).toBe(8);
    expect(parseIpWithPrefix('10.0.0.5', 'x').prefix).toBeUndefined();
    expect(() => parseIpWithPrefix('10.0.0.5/33', 'x')).toThrow(/bad prefix length "33"/);
    expect(() => parseIpWithPrefix('2001:db8::1/129', 'x')).toThrow(/bad prefix/);
  });
});

describe('netmasks', () => {
  it.each([
    ['255.255.255.0', 24],
    ['255.255.254.0', 23],
    ['255.255.255.255', 32],
    ['0.0.0.0', 0],
    ['128.0.0.0', 1],
    ['24', 24],
    ['/16', 16],
  ])('%s is /%i', (mask, prefix) => {
    expect(prefixFromNetmask(mask, '--netmask')).toBe(prefix);
  });

  it.each(['255.0.255.0', '255.255.255.1', '0.255.255.255', '33', 'ffff::', 'x'])('rejects %s', (mask) => {
    expect(() => prefixFromNetmask(mask, '--netmask')).toThrow(XenkitError);
  });

  it('turns every prefix into a mask and back', () => {
    for (let prefix = 0; prefix <= 32; prefix += 1) {
      expect(prefixFromNetmask(netmaskFromPrefix(prefix), 'm')).toBe(prefix);
    }
  });
});

describe('networks', () => {
  it('knows who is inside', () => {
    const ip = parseIp('192.168.1.77', 'x');
    expect(isInNetwork(parseIp('192.168.1.1', 'x'), ip, 24)).toBe(true);
    expect(isInNetwork(parseIp('192.168.2.1', 'x'), ip, 24)).toBe(false);
    expect(isInNetwork(parseIp('192.168.1.65', 'x'), ip, 26)).toBe(true);
    expect(isInNetwork(parseIp('192.168.1.63', 'x'), ip, 26)).toBe(false);
    expect(isInNetwork(parseIp('2001:db8::1', 'x'), ip, 0)).toBe(false);
  });

  it.each([
    ['0.0.0.0', 24, /unspecified/],
    ['127.0.0.2', 8, /loopback/],
    ['224.0.0.1', 24, /multicast/],
    ['192.168.1.0', 24, /network address/],
    ['192.168.1.255', 24, /broadcast address/],
    ['ff02::1', 64, /multicast/],
  ])('refuses %s/%i as a host address', (address, prefix, why) => {
    expect(describeUnusableHost(parseIp(address, 'x'), prefix)).toMatch(why);
  });

  it('accepts ordinary host addresses, also the ends of a /31', () => {
    expect(describeUnusableHost(parseIp('192.168.1.10', 'x'), 24)).toBeUndefined();
    expect(describeUnusableHost(parseIp('10.0.0.0', 'x'), 31)).toBeUndefined();
    expect(describeUnusableHost(parseIp('2001:db8::10', 'x'), 64)).toBeUndefined();
  });

  it.skipIf(!hasPython())("agrees with Python's ipaddress on canonical form, network and broadcast", () => {
    const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }));
    const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }));
    const samples = fc
      .sample(fc.oneof(v4, v6), { numRuns: 400, seed: 42 })
      .map(([address, prefix]) => ({ address, prefix }));
    const expected = pythonNetworks(samples);
    samples.forEach(({ address, prefix }, i) => {
      const ip = parseIp(address, 'x');
      expect({
        canonical: ip.text,
        network: networkOf(ip, prefix).text,
        broadcast: broadcastOf(ip, prefix).text,
      }).toEqual(expected[i]);
    });
  });
});

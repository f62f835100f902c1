import { describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import { runCommand } from '../../src/tools/exec.js';
import { XEN_OUI, deriveXenToolsMac, parseMac, randomXenMac, type MacInputs } from '../../src/model/mac.js';

// Runs the real generateMACAddress of xen-tools, cut out of /usr/bin/xen-create-image, over a
// %CONFIG filled as xen-create-image fills it: hostname, ip (an array ref, as `--ip` is
// repeatable), dhcp (1 with --dhcp), dist. Inputs come as JSON on stdin, never through a shell.
const PERL = String.raw`
use strict; use warnings; use JSON::PP; use Digest::MD5 qw(md5_hex);
my %CONFIG;
open(my $fh, '<', $ARGV[0]) or die "$ARGV[0]: $!";
my $source = do { local $/; <$fh> };
$source =~ /^(sub generateMACAddress\n\{.*?^\})/ms or die "generateMACAddress not found\n";
eval "$1; 1" or die $@;
my $cases = decode_json(do { local $/; <STDIN> });
my @macs;
for my $case (@$cases) {
  %CONFIG = (hostname => $case->{hostname}, dist => $case->{dist});
  $CONFIG{ip} = $case->{ips} if @{$case->{ips}};
  $CONFIG{dhcp} = 1 if $case->{dhcp};
  push @macs, generateMACAddress();
}
print encode_json(\@macs);
`;

async function macsFromXenTools(cases: MacInputs[]): Promise<string[]> {
  const result = await runCommand(['perl', '-e', PERL, '/usr/bin/xen-create-image'], {
    input: JSON.stringify(cases),
  });
  return JSON.parse(result.stdout) as string[];
}

const cases: MacInputs[] = [
  { hostname: 'web1', ips: [], dhcp: true, dist: 'bookworm' },
  { hostname: 'test2', ips: ['192.168.1.20'], dhcp: false, dist: 'hardy' },
  { hostname: 'multi', ips: ['10.0.0.5', '10.0.0.6'], dhcp: false, dist: 'bookworm' },
  { hostname: 'three', ips: ['10.0.0.5', '10.0.0.6', '2001:db8::7'], dhcp: false, dist: 'trixie' },
  { hostname: 'db1.example.org', ips: ['192.0.2.10'], dhcp: false, dist: 'trixie' },
  { hostname: 'mail.lab.example.net', ips: [], dhcp: true, dist: 'jammy' },
  { hostname: 'web1', ips: [], dhcp: true, dist: 'trusty' },
  { hostname: 'web1', ips: [], dhcp: true, dist: 'centos-7' },
  { hostname: 'nonet', ips: [], dhcp: false, dist: 'stable' },
  { hostname: 'x', ips: ['172.16.0.9'], dhcp: false, dist: 'sid' },
];

describe('deriveXenToolsMac', () => {
  it('gives the MAC the real xen-tools 4.9.2 generateMACAddress gives, for every input', async () => {
    expect(cases.map(deriveXenToolsMac)).toEqual(await macsFromXenTools(cases));
  });

  it('changes with each input xen-tools hashes', () => {
    const base = cases[1] as MacInputs;
    const variants = [
      base,
      { ...base, hostname: 'test3' },
      { ...base, ips: ['192.168.1.21'] },
      { ...base, dist: 'lucid' },
      { ...base, ips: [], dhcp: true },
    ];
    expect(new Set(variants.map(deriveXenToolsMac)).size).toBe(variants.length);
  });

  it('writes upper-case hex under the Xen OUI', () => {
    expect(deriveXenToolsMac(cases[0] as MacInputs)).toMatch(/^00:16:3E(:[0-9A-F]{2}){3}$/);
  });
});

describe('randomXenMac', () => {
  it('puts the random bytes under the Xen OUI', () => {
    expect(randomXenMac(() => Buffer.from([0x0a, 0xbc, 0xff]))).toBe('00:16:3E:0A:BC:FF');
  });

  it('draws a fresh address each time', () => {
    const macs = Array.from({ length: 20 }, () => randomXenMac());
    expect(new Set(macs).size).toBe(20);
    for (const mac of macs) expect(mac.startsWith(`${XEN_OUI}:`)).toBe(true);
    for (const mac of macs) expect(parseMac(mac)).toBe(mac);
  });
});

describe('parseMac', () => {
  it.each([
    ['00:16:3e:12:34:56', '00:16:3E:12:34:56'],
    ['00-16-3E-AB-cd-EF', '00:16:3E:AB:CD:EF'],
    ['52:54:00:00:00:01', '52:54:00:00:00:01'],
  ])('normalizes %s', (text, mac) => {
    expect(parseMac(text)).toBe(mac);
  });

  it.each([
    ['00:16:3e:12:34', /is not a MAC address/],
    ['00:16:3e:12:34:5g', /is not a MAC address/],
    ['00:16-3e:12:34:56', /is not a MAC address/],
    ['01:16:3e:12:34:56', /multicast/],
    ['00:00:00:00:00:00', /all zeros/],
  ])('rejects %s', (text, message) => {
    expect(() => parseMac(text, '--mac')).toThrow(message);
    try {
      parseMac(text, '--mac');
    } catch (error) {
      expect(error).toBeInstanceOf(XenkitError);
      expect((error as XenkitError).code).toBe('E_MAC');
      expect((error as XenkitError).kind).toBe('usage');
      expect((error as XenkitError).message).toContain(`--mac "${text}"`);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { fqdnOf, renderHosts, selfHostsLine } from '../../src/customize/hostname.js';
import { makeSpec } from '../helpers/customize-fixtures.js';

describe('hosts', () => {
  it('names a static guest by its primary address', () => {
    expect(selfHostsLine(makeSpec())).toBe('192.168.1.10\tweb1.example.org web1');
  });

  it('names a DHCP guest by 127.0.1.1', () => {
    expect(selfHostsLine(makeSpec({}, { mode: 'dhcp', addresses: [] }))).toBe(
      '127.0.1.1\tweb1.example.org web1',
    );
  });

  it('writes only the short name when the guest has no domain', () => {
    const spec = makeSpec({ hostname: 'web1', domain: undefined });
    expect(fqdnOf(spec)).toBe('web1');
    expect(selfHostsLine(spec)).toBe('192.168.1.10\tweb1');
  });

  it('has localhost and IPv6 lines', () => {
    const hosts = renderHosts(makeSpec());
    expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost\n/);
    expect(hosts).toContain('::1\tlocalhost ip6-localhost ip6-loopback');
    expect(hosts).toContain('ff02::2\tip6-allrouters');
  });

  it("copies the host's entries but not its loopback, IPv6 or guest lines", () => {
    const host = [
      '127.0.0.1 localhost',
      '127.0.1.1 dom0.example.org dom0',
      '10.0.0.5 db.example.org db',
      '10.0.0.9 web1.example.org web1',
      '::1 localhost ip6-localhost',
      '# comment',
    ].join('\n');
    const hosts = renderHosts(makeSpec(), host);
    expect(hosts).toContain('10.0.0.5 db.example.org db');
    expect(hosts).not.toContain('dom0');
    expect(hosts).not.toContain('10.0.0.9');
    expect(hosts.match(/localhost ip6-localhost/g)).toHaveLength(1);
  });
});

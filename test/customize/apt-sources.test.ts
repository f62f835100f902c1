import { describe, expect, it } from 'vitest';
import { findDistribution, type Distribution } from '../../src/config/distributions.js';
import { describeApt, renderAptProxy, renderAptSources } from '../../src/customize/apt-sources.js';
import { makeSpec } from '../helpers/customize-fixtures.js';

function dist(release: string): Distribution {
  const d = findDistribution(release);
  if (!d) throw new Error(release);
  return d;
}

describe('renderAptSources', () => {
  it('writes the release, its updates and its security suite with the table components', () => {
    const { path, content } = renderAptSources(makeSpec(), dist('bookworm'));
    expect(path).toBe('/etc/apt/sources.list');
    expect(content.trim().split('\n')).toEqual([
      'deb http://deb.debian.org/debian bookworm main non-free-firmware',
      'deb http://deb.debian.org/debian bookworm-updates main non-free-firmware',
      'deb http://deb.debian.org/debian-security bookworm-security main non-free-firmware',
    ]);
  });

  it('writes deb822 stanzas where the table says so', () => {
    const spec = makeSpec({}, {});
    spec.install.dist = 'trixie';
    const { path, content } = renderAptSources(spec, dist('trixie'));
    expect(path).toBe('/etc/apt/sources.list.d/debian.sources');
    expect(content).toContain('Suites: trixie trixie-updates\n');
    expect(content).toContain('Suites: trixie-security\n');
    expect(content).toContain('URIs: http://deb.debian.org/debian-security\n');
    expect(content).toContain('Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg');
  });

  it('names the deb822 file after the family for Ubuntu', () => {
    expect(renderAptSources(makeSpec(), dist('noble')).path).toBe('/etc/apt/sources.list.d/ubuntu.sources');
  });

  it('uses the spec mirrors instead of the table defaults', () => {
    const spec = makeSpec();
    spec.install.mirror = 'http://mirror.local/debian';
    spec.install.securityMirror = 'http://mirror.local/security';
    const { content } = renderAptSources(spec, dist('bookworm'));
    expect(content).toContain('deb http://mirror.local/debian bookworm-updates');
    expect(content).toContain('deb http://mirror.local/security bookworm-security');
  });

  it('has no updates or security lines for sid', () => {
    const { content } = renderAptSources(makeSpec(), dist('sid'));
    expect(content).toContain('Suites: sid\n');
    expect(content).not.toContain('security');
  });

  it('accepts expired Release files of an archived release', () => {
    expect(renderAptSources(makeSpec(), dist('buster')).content).toContain(
      'deb [check-valid-until=no] http://archive.debian.org/debian-security buster/updates main',
    );
  });
});

describe('renderAptProxy', () => {
  it('writes an Acquire::http::Proxy line', () => {
    expect(renderAptProxy('http://10.0.0.1:3142/')).toBe('Acquire::http::Proxy "http://10.0.0.1:3142/";\n');
  });

  it.each(['http://x";\nAPT::Foo "1', 'not a url', 'http://a b'])('refuses %j', (proxy) => {
    expect(() => renderAptProxy(proxy)).toThrow(/is not a URL/);
  });
});

describe('describeApt', () => {
  it('removes the sources file of the other format and writes the proxy when one is set', () => {
    const spec = makeSpec();
    spec.install.aptProxy = 'http://proxy:3142';
    const actions = describeApt(spec, dist('bookworm'));
    expect(actions).toContainEqual({ kind: 'remove', path: '/etc/apt/sources.list.d/debian.sources' });
    expect(actions.map((a) => ('path' in a ? a.path : ''))).toContain('/etc/apt/apt.conf.d/01proxy');
  });
});

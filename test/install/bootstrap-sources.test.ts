import { describe, expect, it } from 'vitest';
import {
  mergePackages,
  packageCacheDir,
  resolveBootstrapSources,
} from '../../src/install/bootstrap-sources.js';
import { findDistribution } from '../../src/config/distributions.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';

describe('resolveBootstrapSources', () => {
  it('takes base packages, the spec extras (the kernel among them) and the caller packages in that order', () => {
    const dist = findDistribution('bookworm');
    const sources = resolveBootstrapSources(
      makeInstallSpec({ extraPackages: ['linux-image-cloud-amd64', 'vim', 'less'] }),
      ['htop', 'vim'],
    );
    expect(sources.include).toEqual([
      ...(dist?.basePackages ?? []),
      'linux-image-cloud-amd64',
      'vim',
      'htop',
    ]);
    expect(sources.components).toEqual(dist?.components);
    expect(sources.keyring).toBe(dist?.keyring);
    expect(sources.isKnownRelease).toBe(true);
  });

  it('bootstraps only what was asked when base packages are turned off', () => {
    expect(resolveBootstrapSources(makeInstallSpec({ extraPackages: ['a'] }), ['b'], false).include).toEqual([
      'a',
      'b',
    ]);
  });

  it('maps a suite alias to its codename and keeps a keyring the user gave', () => {
    const sources = resolveBootstrapSources(makeInstallSpec({ dist: 'oldstable', keyring: '/my.gpg' }));
    expect(sources.suite).toBe(findDistribution('oldstable')?.release);
    expect(sources.keyring).toBe('/my.gpg');
  });

  it('still bootstraps a release the table does not know, with main only and no base set', () => {
    const sources = resolveBootstrapSources(
      makeInstallSpec({ dist: 'excalibur', mirror: 'http://m/debian', extraPackages: [] }),
      ['x'],
    );
    expect(sources).toMatchObject({
      suite: 'excalibur',
      mirror: 'http://m/debian',
      components: ['main'],
      include: ['x'],
    });
    expect(sources.isKnownRelease).toBe(false);
  });
});

describe('mergePackages', () => {
  it('drops blanks and repeats and keeps first positions', () => {
    expect(mergePackages(['a', ' b '], ['', 'a', 'c'], ['b'])).toEqual(['a', 'b', 'c']);
  });
});

describe('packageCacheDir', () => {
  it('keeps one cache per release and architecture under the cache dir', () => {
    expect(packageCacheDir(makeInstallSpec({ dist: 'oldstable', arch: 'arm64', cacheDir: '/c' }))).toBe(
      `/c/debs/${findDistribution('oldstable')?.release}_arm64`,
    );
  });
});

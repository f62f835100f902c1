import { describe, expect, it } from 'vitest';
import {
  buildMmdebstrapArgv,
  createMmdebstrapProgressParser,
  quoteHookWord,
  type MmdebstrapOptions,
} from '../../src/tools/mmdebstrap.js';

const base: MmdebstrapOptions = {
  suite: 'bookworm',
  target: '/srv/stage',
  mirrors: ['http://deb.debian.org/debian'],
  variant: 'apt',
  components: ['main', 'non-free-firmware'],
  include: ['openssh-server', 'linux-image-amd64'],
};

describe('buildMmdebstrapArgv', () => {
  it('builds a root-mode directory bootstrap with options before the positional arguments', () => {
    expect(buildMmdebstrapArgv({ ...base, architecture: 'amd64', keyring: '/k.gpg' })).toEqual([
      'mmdebstrap',
      '--variant=apt',
      '--mode=root',
      '--format=directory',
      '--verbose',
      '--architectures=amd64',
      '--components=main,non-free-firmware',
      '--include=openssh-server,linux-image-amd64',
      '--keyring=/k.gpg',
      '--',
      'bookworm',
      '/srv/stage',
      'http://deb.debian.org/debian',
    ]);
  });

  it.each([
    [
      'apt options',
      { aptOptions: ['Acquire::http::Proxy "http://p:3142"'] },
      ['--aptopt=Acquire::http::Proxy "http://p:3142"'],
    ],
    ['skips', { skip: ['essential/unlink', 'cleanup/tmp'] }, ['--skip=essential/unlink,cleanup/tmp']],
    [
      'setup hooks',
      { setupHooks: ['sync-in /c /var/cache/apt/archives/'] },
      ['--setup-hook=sync-in /c /var/cache/apt/archives/'],
    ],
    ['customize hooks', { customizeHooks: ['sync-out /a /c'] }, ['--customize-hook=sync-out /a /c']],
    ['essential hooks', { essentialHooks: ['echo hi'] }, ['--essential-hook=echo hi']],
    ['hook directories', { hookDirectories: ['/h/eatmydata'] }, ['--hook-directory=/h/eatmydata']],
  ])('passes %s through', (_name, extra, expected) => {
    const argv = buildMmdebstrapArgv({ ...base, ...extra });
    for (const arg of expected) expect(argv).toContain(arg);
    expect(argv.indexOf(expected[0] as string)).toBeLessThan(argv.indexOf('--'));
  });

  it('leaves out empty components and includes, and runs another program when told', () => {
    const argv = buildMmdebstrapArgv({
      ...base,
      components: [],
      include: [],
      command: '/opt/mmdebstrap',
      verbose: false,
    });
    expect(argv[0]).toBe('/opt/mmdebstrap');
    expect(
      argv.some((a) => a.startsWith('--components') || a.startsWith('--include') || a === '--verbose'),
    ).toBe(false);
  });

  it('puts every extra mirror line after the target', () => {
    const argv = buildMmdebstrapArgv({
      ...base,
      mirrors: ['http://m/debian', 'deb http://s/debian-security bookworm-security main'],
    });
    expect(argv.slice(-3)).toEqual([
      '/srv/stage',
      'http://m/debian',
      'deb http://s/debian-security bookworm-security main',
    ]);
  });
});

describe('quoteHookWord', () => {
  it.each([
    ['/var/cache/xenkit/debs/bookworm_amd64', '/var/cache/xenkit/debs/bookworm_amd64'],
    ['/tmp/with space', `'/tmp/with space'`],
    [`/tmp/it's`, `'/tmp/it'\\''s'`],
    ['/tmp/$HOME', `'/tmp/$HOME'`],
  ])('quotes %s for shellwords as %s', (word, quoted) => {
    expect(quoteHookWord(word)).toBe(quoted);
  });
});

describe('createMmdebstrapProgressParser', () => {
  it('turns stage, download, unpack and configure lines into counted progress', () => {
    const parse = createMmdebstrapProgressParser();
    const lines = [
      'I: running apt-get update...',
      'Hit:1 http://deb.debian.org/debian bookworm InRelease',
      'I: downloading packages with apt...',
      '0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.',
      'Get:1 http://deb.debian.org/debian bookworm/main amd64 base-files amd64 12.4 [70.8 kB]',
      'Get:2 http://deb.debian.org/debian bookworm/main amd64 bash amd64 5.2 [1491 kB]',
      'I: installing essential packages...',
      'Unpacking base-files (12.4+deb12u15) ...',
      'Unpacking bash:amd64 (5.2.15-2+b13) ...',
      'Setting up base-files (12.4+deb12u15) ...',
      'Setting up bash:amd64 (5.2.15-2+b13) ...',
      'dpkg: warning: ignoring pre-dependency problem!',
      'I: success in 61.2 seconds',
    ];
    expect(lines.map(parse).filter((x) => x !== undefined)).toEqual([
      'running apt-get update',
      'downloading packages with apt',
      'downloading 1/2',
      'downloading 2/2',
      'installing essential packages',
      'unpacking 1/2 base-files',
      'unpacking 2/2 bash',
      'configuring 1/2 base-files',
      'configuring 2/2 bash',
      'success in 61.2 seconds',
    ]);
  });

  it('counts without a total when apt never announced one', () => {
    const parse = createMmdebstrapProgressParser();
    expect(parse('Setting up openssh-server (1:9.2p1-2) ...')).toBe('configuring 1 openssh-server');
  });
});

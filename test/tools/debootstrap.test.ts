import { describe, expect, it } from 'vitest';
import {
  buildDebootstrapArgv,
  createDebootstrapProgressParser,
  splitToolCommand,
  type DebootstrapOptions,
} from '../../src/tools/debootstrap.js';

const base: DebootstrapOptions = {
  suite: 'bookworm',
  target: '/srv/stage',
  mirror: 'http://deb.debian.org/debian',
  components: ['main'],
  include: [],
};

describe('buildDebootstrapArgv', () => {
  it('builds debootstrap with every option before suite, target and mirror', () => {
    expect(
      buildDebootstrapArgv({
        ...base,
        variant: 'minbase',
        architecture: 'amd64',
        components: ['main', 'non-free-firmware'],
        include: ['openssh-server', 'udev'],
        keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
        cacheDir: '/var/cache/xenkit/debs/bookworm_amd64',
      }),
    ).toEqual([
      'debootstrap',
      '--variant=minbase',
      '--arch=amd64',
      '--components=main,non-free-firmware',
      '--include=openssh-server,udev',
      '--keyring=/usr/share/keyrings/debian-archive-keyring.gpg',
      '--cache-dir=/var/cache/xenkit/debs/bookworm_amd64',
      'bookworm',
      '/srv/stage',
      'http://deb.debian.org/debian',
    ]);
  });

  it('runs a --debootstrap-cmd with its own leading arguments', () => {
    const argv = buildDebootstrapArgv({
      ...base,
      command: ['/usr/local/sbin/debootstrap', '--no-check-gpg'],
    });
    expect(argv.slice(0, 2)).toEqual(['/usr/local/sbin/debootstrap', '--no-check-gpg']);
    expect(argv.slice(-3)).toEqual(['bookworm', '/srv/stage', 'http://deb.debian.org/debian']);
  });
});

describe('splitToolCommand', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['   ', undefined],
    ['cdebootstrap', ['cdebootstrap']],
    ['  debootstrap   --no-check-gpg ', ['debootstrap', '--no-check-gpg']],
  ])('splits %j into %j', (input, expected) => {
    expect(splitToolCommand(input)).toEqual(expected);
  });
});

describe('createDebootstrapProgressParser', () => {
  it('counts packages per activity and passes stages through', () => {
    const parse = createDebootstrapProgressParser();
    const lines = [
      'I: Retrieving InRelease ',
      'I: Checking Release signature',
      'I: Retrieving libacl1 2.3.1-3',
      'I: Validating libacl1 2.3.1-3',
      'I: Retrieving libc6 2.36-9+deb12u9',
      'I: Extracting libacl1...',
      'I: Unpacking required packages...',
      'I: Unpacking libacl1:amd64...',
      'I: Configuring required packages...',
      'I: Configuring libc-bin...',
      'W: some warning',
      'I: Base system installed successfully.',
    ];
    expect(lines.map(parse).filter((x) => x !== undefined)).toEqual([
      'Retrieving InRelease',
      'Checking Release signature',
      'downloading 1 libacl1',
      'downloading 2 libc6',
      'extracting 1 libacl1',
      'Unpacking required packages',
      'unpacking 1 libacl1',
      'Configuring required packages',
      'configuring 1 libc-bin',
      'Base system installed successfully.',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { guestResolvers, passtArgv } from '../../src/tools/passt.js';

describe('passtArgv', () => {
  it('serves one QEMU, keeps the gateway off the host loopback, forwards DNS and no ports', () => {
    const argv = passtArgv({
      socket: '/run/xenkit/qemu/web1/net0.sock',
      pidfile: '/run/xenkit/qemu/web1/passt0.pid',
      logFile: '/run/xenkit/qemu/web1/passt0.log',
      address: '10.0.2.15',
      netmaskBits: 24,
      gateway: '10.0.2.2',
      dnsForward: '10.0.2.3',
      dns: ['192.0.2.53'],
    });
    expect(argv.join(' ')).toBe(
      'passt --one-off --socket /run/xenkit/qemu/web1/net0.sock --pid /run/xenkit/qemu/web1/passt0.pid ' +
        '--log-file /run/xenkit/qemu/web1/passt0.log --quiet --runas 0:0 --no-map-gw --address 10.0.2.15 ' +
        '--netmask 24 --gateway 10.0.2.2 --dns-forward 10.0.2.3 --dns 192.0.2.53 --tcp-ports none --udp-ports none',
    );
  });
});

describe('guestResolvers', () => {
  it.each([
    [
      'nothing when resolv.conf has a usable resolver (passt reads it)',
      ['nameserver 192.0.2.53\n', 'nameserver 203.0.113.9\n'],
      [],
    ],
    [
      'the upstream list behind a loopback stub',
      ['nameserver 127.0.0.53\noptions edns0\n', 'nameserver 203.0.113.9\n'],
      ['203.0.113.9'],
    ],
    ['nothing when every resolver is local', ['nameserver 127.0.0.1\n', ''], []],
    [
      'at most three upstream servers',
      [
        'nameserver 127.0.0.53\n',
        'nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n',
      ],
      ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
    ],
  ])('gives %s', (_what, files, expected) => {
    expect(guestResolvers(files)).toEqual(expected);
  });
});

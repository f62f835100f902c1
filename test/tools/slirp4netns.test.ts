import { describe, expect, it } from 'vitest';
import { slirp4netnsArgv } from '../../src/tools/slirp4netns.js';

describe('slirp4netnsArgv', () => {
  it('configures the namespace of the pid with a tap, without a way to the host loopback', () => {
    expect(slirp4netnsArgv({ pid: 4242, apiSocket: '/run/xenkit/qemu/web1/slirp4netns.sock' })).toEqual([
      'slirp4netns',
      '--configure',
      '--mtu=65520',
      '--disable-host-loopback',
      '--api-socket=/run/xenkit/qemu/web1/slirp4netns.sock',
      '4242',
      'tap0',
    ]);
  });

  it('runs the binary it is given', () => {
    expect(slirp4netnsArgv({ pid: 1, apiSocket: '/s', binary: '/opt/bin/slirp4netns' })[0]).toBe(
      '/opt/bin/slirp4netns',
    );
  });
});

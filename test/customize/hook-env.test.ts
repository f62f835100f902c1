import { describe, expect, it } from 'vitest';
import { buildHookEnv } from '../../src/customize/hook-env.js';
import { makeSpec } from '../helpers/customize-fixtures.js';

describe('buildHookEnv', () => {
  it('exports the xen-tools names hooks read', () => {
    const env = buildHookEnv(makeSpec());
    expect(env).toMatchObject({
      hostname: 'web1.example.org',
      dist: 'bookworm',
      ip1: '192.168.1.10',
      ip_count: '1',
      netmask: '255.255.255.0',
      gateway: '192.168.1.1',
      mac: '00:16:3E:12:34:56',
      dir: '/srv/xen',
      fs: 'ext4',
      NUMPARTITIONS: '2',
      PARTITION2: 'disk:4096M:ext4:/:noatime,errors=remount-ro',
    });
  });

  it('exports every volume of a --partitions layout as PARTITIONn, numbered as the devices are', () => {
    const spec = makeSpec();
    spec.disk = { ...spec.disk, name: 'root', device: 'xvda2' };
    spec.swap = { size: 128 * 1024 ** 2, device: 'xvda1', name: 'swap' };
    spec.volumes = [
      {
        name: 'home',
        size: 512 * 1024 ** 2,
        fs: 'xfs',
        mountpoint: '/home',
        mountOptions: 'nodev',
        mkfsCommand: undefined,
        device: 'xvda3',
      },
    ];
    expect(buildHookEnv(spec)).toMatchObject({
      NUMPARTITIONS: '3',
      PARTITION1: 'swap:128M:swap::',
      PARTITION2: 'root:4096M:ext4:/:noatime,errors=remount-ro',
      PARTITION3: 'home:512M:xfs:/home:nodev',
    });
  });

  it('leaves dhcp unset for a static guest, since xen-tools hooks test it with -z', () => {
    expect(buildHookEnv(makeSpec())).not.toHaveProperty('dhcp');
    expect(buildHookEnv(makeSpec({}, { mode: 'dhcp', addresses: [] })).dhcp).toBe('1');
  });

  it('never exports a password, even when a caller passes one in', () => {
    const spec = makeSpec();
    spec.accounts.rootPassword = { kind: 'value', value: 'hunter2hunter2' };
    const env = buildHookEnv(spec, { password: 'hunter2hunter2', passwd: '1', genpass: '1' });
    expect(Object.keys(env)).not.toEqual(expect.arrayContaining(['password']));
    expect(Object.values(env).join('\n')).not.toContain('hunter2');
    expect(env).not.toHaveProperty('passwd');
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildQemuArgv,
  lifecycleActions,
  machineOption,
  type QemuArgvOptions,
} from '../../../src/hypervisors/qemu/argv.js';
import { runtimePathsFor } from '../../../src/hypervisors/qemu/runtime-paths.js';
import { launchArgv, userNetMode } from '../../../src/hypervisors/qemu/user-net.js';
import type { DomainConfig } from '../../../src/model/domain-config.js';
import { XenkitError } from '../../../src/errors.js';
import { disk, domainConfig, vif } from './fixtures.js';

const goldenFile = (name: string): string =>
  fileURLToPath(new URL(`../../golden/qemu-argv/${name}.argv`, import.meta.url));

/** One argument per line; UPDATE_GOLDEN=1 rewrites the files from the current output. */
function golden(name: string, argv: string[]): string {
  const text = argv.join('\n') + '\n';
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(goldenFile(name), text);
  return readFileSync(goldenFile(name), 'utf8');
}

const rt = runtimePathsFor('/run/xenkit', 'web1');
const extracted = {
  kernel: '/run/xenkit/qemu/web1/boot/vmlinuz',
  initrd: '/run/xenkit/qemu/web1/boot/initrd.img',
};

const cases: [string, DomainConfig, QemuArgvOptions][] = [
  [
    'pv-host-kernel',
    domainConfig({
      bootloader: undefined,
      kernel: '/boot/vmlinuz-6.1.0-56-amd64',
      ramdisk: '/boot/initrd.img-6.1.0-56-amd64',
      memory: 256,
      maxmem: 1024,
      vcpus: 1,
      maxvcpus: 4,
      onReboot: 'destroy',
      onCrash: 'destroy',
    }),
    { accel: 'tcg', kernel: '/boot/vmlinuz-6.1.0-56-amd64', initrd: '/boot/initrd.img-6.1.0-56-amd64' },
  ],
  ['pygrub-extracted', domainConfig(), { accel: 'tcg', ...extracted }],
  [
    'two-disks-qcow2',
    domainConfig({
      disks: [
        disk('/srv/web1/root.qcow2', 'xvda', { format: 'qcow2' }),
        disk('/dev/vg0/web1-data', 'xvdb', { access: 'ro' }),
      ],
      root: '/dev/xvda1 ro',
    }),
    { accel: 'kvm', ...extracted },
  ],
  [
    'two-nics',
    domainConfig({
      vifs: [vif('00:16:3E:AA:BB:01'), vif('00:16:3e:aa:bb:02', undefined, { model: 'e1000' })],
    }),
    { accel: 'tcg', ...extracted },
  ],
  [
    'bridge',
    domainConfig({ vifs: [vif('00:16:3E:AA:BB:01', 'xenbr0'), vif('00:16:3E:AA:BB:02', 'nosuchbr')] }),
    { accel: 'tcg', ...extracted, taps: ['xkvif7.0', undefined] },
  ],
  [
    'user-net-passt',
    domainConfig({
      vifs: [vif('00:16:3E:AA:BB:01'), vif('00:16:3E:AA:BB:02', 'xenbr0')],
      raw: { xenkit_host_loopback: 0 },
    }),
    { accel: 'tcg', ...extracted, taps: [undefined, 'xkvif3.1'] },
  ],
  [
    'hvm-disk-boot',
    domainConfig({ type: 'hvm', bootloader: undefined, onPoweroff: 'preserve' }),
    { accel: 'tcg' },
  ],
];

describe('machineOption', () => {
  it.each([
    ['virtio disks only', [disk('/srv/a.img', 'xvda')], 'q35,smbus=off,sata=off'],
    [
      'a CD-ROM on the AHCI bus',
      [disk('/srv/a.img', 'xvda'), disk('/srv/d.iso', 'hdc', { isCdrom: true, access: 'ro' })],
      'q35,smbus=off',
    ],
  ])('leaves SMBus out (PS/2 stays for xm sysrq), and AHCI too with %s', (_what, disks, expected) => {
    expect(machineOption(domainConfig({ disks }))).toBe(expected);
  });
});

describe('buildQemuArgv', () => {
  it.each(cases)('matches the golden command line for %s', (name, dc, opts) => {
    expect(buildQemuArgv(dc, rt, opts).join('\n') + '\n').toBe(golden(name, buildQemuArgv(dc, rt, opts)));
  });

  it("sizes TCG's translation cache from xenkit_tcg_cache, 96 MiB without it; KVM has none", () => {
    const accel = (dc: DomainConfig, accel: 'tcg' | 'kvm' = 'tcg'): string | undefined => {
      const argv = buildQemuArgv(dc, rt, { accel, ...extracted });
      return argv[argv.indexOf('-accel') + 1];
    };
    expect(accel(domainConfig({ tcgCacheMiB: 48 }))).toBe('tcg,thread=multi,tb-size=48');
    expect(accel(domainConfig())).toBe('tcg,thread=multi,tb-size=96');
    expect(accel(domainConfig({ tcgCacheMiB: 48 }), 'kvm')).toBe('kvm');
  });

  it('starts stopped and daemonized with the pidfile and its stderr log in the runtime directory', () => {
    const argv = buildQemuArgv(domainConfig(), rt, { accel: 'tcg', ...extracted });
    expect(argv.slice(-6)).toEqual(['-D', rt.qemuLog, '-S', '-daemonize', '-pidfile', rt.pidfile]);
  });

  it("gives a NIC without a bridge QEMU's own user network, or passt's socket when another NIC is bridged", () => {
    const netdevs = (raw: DomainConfig['raw'], taps?: (string | undefined)[]): string[] =>
      buildQemuArgv(
        domainConfig({ raw, vifs: [vif('00:16:3E:AA:BB:01'), vif('00:16:3E:AA:BB:02', 'xenbr0')] }),
        rt,
        { accel: 'tcg', ...extracted, ...(taps ? { taps } : {}) },
      ).filter((a) => /^(user|stream|tap),/.test(a));
    const passt = 'stream,id=net0,server=off,addr.type=unix,addr.path=/run/xenkit/qemu/web1/net0.sock';
    const tap = 'tap,id=net1,ifname=xkvif3.1,script=no,downscript=no';
    // Without a bridged NIC: QEMU's slirp (the driver puts QEMU in its own namespace unless 1).
    expect(netdevs({})).toEqual(['user,id=net0', 'user,id=net1']);
    expect(netdevs({ xenkit_host_loopback: 1 })).toEqual(['user,id=net0', 'user,id=net1']);
    // With one: passt, unless the cfg opts in to the host's loopback.
    expect(netdevs({}, [undefined, 'xkvif3.1'])).toEqual([passt, tap]);
    expect(netdevs({ xenkit_host_loopback: 0 }, [undefined, 'xkvif3.1'])).toEqual([passt, tap]);
    expect(netdevs({ xenkit_host_loopback: 'no' }, [undefined, 'xkvif3.1'])).toEqual([passt, tap]);
    expect(netdevs({ xenkit_host_loopback: 'yes' }, [undefined, 'xkvif3.1'])).toEqual(['user,id=net0', tap]);
    expect(() => netdevs({ xenkit_host_loopback: 'maybe' })).toThrow(
      /xenkit_host_loopback = "maybe" is not 0 or 1/,
    );
  });

  it.each([
    [{}, [], 'namespace'],
    [{ xenkit_host_loopback: 0 }, [], 'namespace'],
    [{ xenkit_host_loopback: 1 }, [], 'host-loopback'],
    [{}, [undefined, 'xkvif3.1'], 'passt'],
    [{ xenkit_host_loopback: 'on' }, [undefined, 'xkvif3.1'], 'host-loopback'],
    [{}, ['xkvif3.0', 'xkvif3.1'], 'none'],
  ] as const)('serves the user network of raw %j with taps %j as %s', (raw, taps, mode) => {
    const dc = domainConfig({ raw, vifs: [vif('00:16:3E:AA:BB:01'), vif('00:16:3E:AA:BB:02', 'xenbr0')] });
    expect(userNetMode(dc, taps)).toBe(mode);
  });

  it('starts QEMU of the namespace mode through unshare, the argv passed as arguments of a fixed script', () => {
    const qemu = ['qemu-system-x86_64', '-name', "a'b;$(x)"];
    expect(launchArgv('namespace', rt, qemu)).toEqual([
      'unshare',
      '--net',
      '--mount',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /etc/resolv.conf && exec "$@"',
      '/run/xenkit/qemu/web1/resolv.conf',
      ...qemu,
    ]);
    expect(launchArgv('host-loopback', rt, qemu)).toEqual(qemu);
    expect(launchArgv('passt', rt, qemu)).toEqual(qemu);
  });

  it('doubles commas in paths so QEMU does not split them', () => {
    const dc = domainConfig({ disks: [disk('/srv/a,b.img', 'xvda2')] });
    const argv = buildQemuArgv(dc, rt, { accel: 'tcg', ...extracted });
    expect(argv).toContain('driver=file,filename=/srv/a,,b.img,node-name=disk0-file,discard=unmap');
  });

  it('reports every impossible limit at once, naming the guest', () => {
    const dc = domainConfig({ memory: 1024, maxmem: 512, vcpus: 4, maxvcpus: 2 });
    let caught: unknown;
    try {
      buildQemuArgv(dc, rt, { accel: 'tcg' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(XenkitError);
    const errors = (caught as XenkitError & { errors: XenkitError[] }).errors.map((e) => e.message);
    expect(errors).toEqual([
      'guest "web1": maxmem 512 is below memory 1024',
      'guest "web1": maxvcpus 2 is below vcpus 4',
    ]);
  });
});

describe('lifecycleActions', () => {
  it.each([
    ['destroy', 'destroy', 'destroy', 'reboot=shutdown,shutdown=poweroff,panic=exit-failure'],
    ['destroy', 'restart', 'restart', 'reboot=reset,shutdown=poweroff,panic=none'],
    ['preserve', 'restart', 'preserve', 'reboot=reset,shutdown=pause,panic=pause'],
    ['destroy', 'rename-restart', 'coredump-destroy', 'reboot=reset,shutdown=poweroff,panic=exit-failure'],
  ] as const)('maps on_poweroff=%s on_reboot=%s on_crash=%s', (onPoweroff, onReboot, onCrash, expected) => {
    expect(lifecycleActions(domainConfig({ onPoweroff, onReboot, onCrash }))).toBe(expected);
  });
});

describe('refuseScriptedVifs', () => {
  it("refuses a vif that needs Xen's vif-openvswitch (a --vlan tag), and lets vif-bridge and plain vifs pass", async () => {
    const { refuseScriptedVifs } = await import('../../../src/hypervisors/qemu/bridge-tap.js');
    const tagged = vif('00:16:3e:00:00:01', 'ovs0.10', {
      raw: 'mac=00:16:3e:00:00:01,bridge=ovs0.10,script=vif-openvswitch',
    });
    expect(() => refuseScriptedVifs('web1', [tagged])).toThrow(/needs Xen's vif-openvswitch script/);
    expect(() =>
      refuseScriptedVifs('web1', [vif(undefined, 'br0', { raw: 'bridge=br0,script=vif-bridge' })]),
    ).not.toThrow();
    expect(() => refuseScriptedVifs('web1', [vif('00:16:3e:00:00:02')])).not.toThrow();
  });
});

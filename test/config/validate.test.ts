import { afterEach, describe, expect, it } from 'vitest';
import { resolveCreateImage } from '../../src/config/create-image.js';
import type { GuestSpec } from '../../src/model/guest-spec.js';
import { deriveXenToolsMac } from '../../src/model/mac.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { fakeHost, makeRoot } from '../helpers/config-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const shell: ShellRunner = async () => ({ stdout: '6.1.0-test\n', exitCode: 0, stderr: '' });
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const PUBKEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq0cm9vdEBob3N0IGtleSBmb3IgdGVzdHM root@host';

async function resolve(argv: string[], files: Record<string, string> = {}) {
  const { root, cleanup } = makeRoot(files);
  cleanups.push(cleanup);
  const request = await resolveCreateImage(
    ['--root', root, ...argv],
    {},
    { host: fakeHost, runShell: shell },
  );
  if (!request.spec) throw new Error('no spec');
  return { ...request, spec: request.spec, root };
}

const BASE = ['--hostname=web1', '--dir=/srv/xen'];

describe('sizes and resources', () => {
  it.each([
    ['1Gb', GiB],
    ['1G', GiB],
    ['1024M', GiB],
    ['128Mb', 128 * MiB],
    ['1.5G', 1.5 * GiB],
    ['2T', 2 * 1024 * GiB],
  ])('reads --size=%s', async (size, bytes) => {
    const { spec } = await resolve([...BASE, '--dhcp', `--size=${size}`]);
    expect(spec.disk.size).toBe(bytes);
  });

  it('reads memory without a unit as megabytes, as xen-tools does', async () => {
    const { spec } = await resolve([
      ...BASE,
      '--dhcp',
      '--memory=300',
      '--maxmem=1G',
      '--vcpus=2',
      '--maxvcpus=4',
    ]);
    expect(spec).toMatchObject({ memory: 300 * MiB, maxmem: GiB, vcpus: 2, maxvcpus: 4 });
  });

  it('reads the 2009 sample spelling "128 Mb" from a conf file', async () => {
    const { spec } = await resolve([...BASE, '--dhcp'], {
      'etc/xen-tools/xen-tools.conf': 'memory = 128 Mb\nswap = 128 Mb\n',
    });
    expect(spec.memory).toBe(128 * MiB);
    expect(spec.swap?.size).toBe(128 * MiB);
  });

  it('drops swap with --noswap or swap = 0, and the root becomes partition 1', async () => {
    for (const flag of ['--noswap', '--swap=0']) {
      const { spec } = await resolve([...BASE, '--dhcp', flag]);
      expect(spec.swap).toBeUndefined();
      expect(spec.disk.device).toBe('xvda1');
      expect(spec.boot.rootDevice).toBe('/dev/xvda1');
    }
  });
});

describe('pairs of options across layers: the higher layer decides, no conflict', () => {
  const CONF = 'etc/xen-tools/xen-tools.conf';
  it.each([
    ['swap = 1G', ['--noswap'], (s: GuestSpec) => s.swap === undefined],
    ['noswap = 1', ['--swap=1G'], (s: GuestSpec) => s.swap?.size === GiB],
    ['noswap = 0', [], (s: GuestSpec) => s.swap?.size === 512 * MiB],
    ['scsi = 1', ['--ide'], (s: GuestSpec) => s.disk.device === 'hda2'],
    ['ide = 1', ['--scsi'], (s: GuestSpec) => s.disk.device === 'sda2'],
    ['ide = 1', ['--disk_device=vda'], (s: GuestSpec) => s.disk.device === 'vda2'],
    ['disk_device = vda', ['--ide'], (s: GuestSpec) => s.disk.device === 'hda2'],
    ['mac = 00:16:3e:00:00:01', ['--randommac'], (s: GuestSpec) => s.network.macSource === 'random'],
    ['randommac = 1', ['--mac=00:16:3e:00:00:02'], (s: GuestSpec) => s.network.mac === '00:16:3E:00:00:02'],
  ])('%s in xen-tools.conf, %j on the command line', async (conf, argv, holds) => {
    const { spec } = await resolve([...BASE, '--dhcp', ...argv], { [CONF]: `${conf}\n` });
    expect(holds(spec)).toBe(true);
  });

  it('takes a password source on the command line over genpass = 1 in the conf', async () => {
    const { spec } = await resolve([...BASE, '--dhcp', '--passwd'], { [CONF]: 'genpass = 1\n' });
    expect(spec.accounts.rootPassword).toEqual({ kind: 'prompt' });
  });

  it('does not boot an --install=0 guest that the conf says to boot, and says so', async () => {
    const { spec, warnings } = await resolve([...BASE, '--dhcp', '--install=0'], { [CONF]: 'boot = 1\n' });
    expect(spec.startAfter).toBe(false);
    expect(warnings.join('\n')).toMatch(/boot is ignored with --install "0"/);
  });

  it('warns that a gateway given with --dhcp is ignored', async () => {
    const { warnings } = await resolve([...BASE, '--dhcp', '--gateway=10.0.0.1']);
    expect(warnings.join('\n')).toMatch(/^--gateway is ignored with --dhcp/m);
  });

  it('takes --ide with the --disk_device it implies', async () => {
    const { spec } = await resolve([...BASE, '--dhcp', '--ide', '--disk_device=hda']);
    expect(spec.disk.device).toBe('hda2');
  });
});

describe('--install=0', () => {
  it("ignores a conf file's passwd = 1 and ssh-key, with a warning", async () => {
    const { spec, warnings } = await resolve([...BASE, '--dhcp', '--install=0'], {
      'etc/xen-tools/xen-tools.conf': "passwd = '1'\nssh-key = /nope.pub\n",
    });
    expect(spec.accounts).toMatchObject({ rootPassword: { kind: 'none' }, sshAuthorizedKeys: [] });
    expect(warnings.join('\n')).toMatch(/xen-tools\.conf:1: passwd is ignored with --install "0"/);
    expect(warnings.join('\n')).toMatch(/xen-tools\.conf:2: ssh-key is ignored with --install "0"/);
  });

  it('generates no password (there is no /etc/shadow to put it in) and says the filesystem stays empty', async () => {
    const { spec, warnings } = await resolve([...BASE, '--dhcp', '--install=0']);
    expect(spec.install.enabled).toBe(false);
    expect(spec.accounts.rootPassword).toEqual({ kind: 'none' });
    expect(warnings.join('\n')).toMatch(/--install "0": the filesystem stays empty/);
  });
});

describe('storage', () => {
  it('places image files under the root', async () => {
    const { spec, root } = await resolve([
      '--hostname=web1.example.org',
      '--dir=/srv/xen',
      '--dhcp',
      '--image=full',
      '--image-format=qcow2',
    ]);
    expect(spec.storage).toEqual({
      kind: 'file',
      dir: `${root}/srv/xen`,
      guestDir: `${root}/srv/xen/domains/web1.example.org`,
      allocation: 'full',
      format: 'qcow2',
    });
    expect(spec).toMatchObject({ name: 'web1', hostname: 'web1.example.org', domain: 'example.org' });
    expect(spec.output.cfgPath).toBe(`${root}/etc/xen/web1.example.org.cfg`);
  });

  it('reads LVM with a thin pool, and block devices', async () => {
    expect((await resolve(['--hostname=a', '--lvm=vg0', '--lvm_thin=pool', '--dhcp'])).spec.storage).toEqual({
      kind: 'lvm',
      vg: 'vg0',
      thinPool: 'pool',
    });
    const { spec, root } = await resolve([
      '--hostname=a',
      '--image-dev=/dev/sdb',
      '--swap-dev=/dev/sdc',
      '--dhcp',
    ]);
    expect(spec.storage).toEqual({ kind: 'device', imageDev: `${root}/dev/sdb`, swapDev: `${root}/dev/sdc` });
    expect(spec.swap?.device).toBe('xvda1');
  });

  it('takes the storage of xen-tools.conf unless the command line names another', async () => {
    const files = { 'etc/xen-tools/xen-tools.conf': 'lvm = vg0\n' };
    expect((await resolve(['--hostname=a', '--dhcp'], files)).spec.storage.kind).toBe('lvm');
    expect((await resolve(['--hostname=a', '--dhcp', '--dir=/x'], files)).spec.storage.kind).toBe('file');
  });

  it('uses the per-filesystem settings of the conf', async () => {
    const conf = 'fs = xfs\nxfs_options = noatime,logbufs=8\nmake_fs_xfs = mkfs.xfs -f -m crc=1\n';
    const { spec } = await resolve([...BASE, '--dhcp'], { 'etc/xen-tools/xen-tools.conf': conf });
    expect(spec.disk).toMatchObject({
      fs: 'xfs',
      mountOptions: 'noatime,logbufs=8',
      mkfsCommand: ['mkfs.xfs', '-f', '-m', 'crc=1'],
    });
  });
});

describe('network', () => {
  it('reads a static address with netmask, gateway and broadcast', async () => {
    const argv = [
      ...BASE,
      '--ip=192.168.1.10',
      '--netmask=255.255.255.0',
      '--gateway=192.168.1.1',
      '--broadcast=192.168.1.255',
      '--nameserver=1.1.1.1 9.9.9.9',
      '--nameserver=8.8.8.8',
      '--bridge=xenbr0',
      '--vlan=10',
    ];
    const { spec, warnings } = await resolve(argv);
    expect(spec.network).toMatchObject({
      mode: 'static',
      addresses: [{ address: '192.168.1.10', prefix: 24 }],
      gateway: '192.168.1.1',
      broadcast: '192.168.1.255',
      nameservers: ['1.1.1.1', '9.9.9.9', '8.8.8.8'],
      bridge: 'xenbr0',
      vlan: 10,
      autoIp: false,
    });
    expect(warnings).toEqual([]);
  });

  it('reads CIDR and IPv6 addresses, and several of them', async () => {
    const { spec } = await resolve([
      ...BASE,
      '--ip=10.1.2.3/16',
      '--ip=2001:db8::10/64',
      '--gateway=10.1.0.1',
    ]);
    expect(spec.network.addresses).toEqual([
      { address: '10.1.2.3', prefix: 16 },
      { address: '2001:db8::10', prefix: 64 },
    ]);
  });

  it('warns when the netmask or gateway is missing', async () => {
    const { warnings, spec } = await resolve([...BASE, '--ip=10.0.0.5']);
    expect(spec.network.addresses).toEqual([{ address: '10.0.0.5', prefix: 24 }]);
    expect(warnings.join('\n')).toMatch(/no netmask given, assuming \/24/);
    expect(warnings.join('\n')).toMatch(/no gateway given/);
  });

  it('derives the MAC from what xen-tools hashes: hostname, ips as typed, dhcp, dist as written', async () => {
    const staticMac = (await resolve([...BASE, '--ip=10.0.0.5', '--ip=10.0.0.6', '--dist=stable'])).spec
      .network;
    expect(staticMac.mac).toBe(
      deriveXenToolsMac({ hostname: 'web1', ips: ['10.0.0.5', '10.0.0.6'], dhcp: false, dist: 'stable' }),
    );
    expect(staticMac.macSource).toBe('derived');
    const dhcpMac = (await resolve([...BASE, '--dhcp'])).spec.network.mac;
    expect(dhcpMac).toBe(deriveXenToolsMac({ hostname: 'web1', ips: [], dhcp: true, dist: 'bookworm' }));
  });

  it('takes a given or random MAC', async () => {
    expect((await resolve([...BASE, '--dhcp', '--mac=00-16-3e-aa-bb-cc'])).spec.network).toMatchObject({
      mac: '00:16:3E:AA:BB:CC',
      macSource: 'given',
    });
    const random = (await resolve([...BASE, '--dhcp', '--randommac'])).spec.network;
    expect(random.macSource).toBe('random');
    expect(random.mac).toMatch(/^00:16:3E(:[0-9A-F]{2}){3}$/);
  });

  it('takes --ip=auto from the pool, skipping addresses in use', async () => {
    const files = {
      'etc/xen-tools/ips.txt': '10.0.0.10: used\n10.0.0.11\n10.0.0.12\n10.0.0.0/29\n',
      'etc/xen/other.cfg': "vif = [ 'ip=10.0.0.11,mac=00:16:3E:00:00:01' ]\n",
    };
    const { spec, root } = await resolve([...BASE, '--ip=auto', '--netmask=255.255.255.0'], files);
    expect(spec.network).toMatchObject({ autoIp: true, addresses: [{ address: '10.0.0.12', prefix: 24 }] });
    // Resolving claims nothing: the state file is written when the plan runs.
    const { existsSync } = await import('node:fs');
    expect(existsSync(`${root}/var/lib/xenkit/ips.used`)).toBe(false);
  });
});

describe('boot', () => {
  it("boots the guest's own kernel and ignores the stock conf's kernel line", async () => {
    const conf = 'kernel = /boot/vmlinuz-`uname -r`\ninitrd = /boot/initrd.img-`uname -r`\n';
    const { spec } = await resolve([...BASE, '--dhcp'], { 'etc/xen-tools/xen-tools.conf': conf });
    expect(spec.boot).toMatchObject({
      type: 'pv',
      useGuestKernel: true,
      kernel: undefined,
      rootDevice: '/dev/xvda2',
      serialDevice: 'hvc0',
    });
    expect(spec.install.extraPackages).toContain('linux-image-cloud-amd64');
  });

  it('installs the kernel package --kernel-package names instead of the cloud flavour', async () => {
    const { spec } = await resolve([...BASE, '--dhcp', '--kernel-package=linux-image-amd64']);
    expect(spec.install.extraPackages).toContain('linux-image-amd64');
    expect(spec.install.extraPackages).not.toContain('linux-image-cloud-amd64');
  });

  it('gives an HVM guest the generic kernel, which drives emulated hardware', async () => {
    const { spec } = await resolve([...BASE, '--dhcp', '--type=hvm']);
    expect(spec.install.extraPackages).toContain('linux-image-amd64');
    expect(spec.install.extraPackages).not.toContain('linux-image-cloud-amd64');
  });

  it('gives an HVM guest the generic kernel, which drives emulated hardware', async () => {
    const { spec } = await resolve([...BASE, '--dhcp', '--type=hvm']);
    expect(spec.install.extraPackages).toContain('linux-image-amd64');
    expect(spec.install.extraPackages).not.toContain('linux-image-cloud-amd64');
  });

  it('takes the kernel flavour of the architecture', async () => {
    const { spec } = await resolve([...BASE, '--dhcp', '--arch=arm64']);
    expect(spec.install.extraPackages).toContain('linux-image-cloud-arm64');
  });

  it('warns that --kernel-package is ignored when the guest boots a host kernel', async () => {
    const files = { 'boot/vmlinuz-x': 'k' };
    const { spec, warnings } = await resolve(
      [...BASE, '--dhcp', '--kernel=/boot/vmlinuz-x', '--kernel-package=linux-image-amd64'],
      files,
    );
    expect(spec.install.extraPackages.some((p) => p.startsWith('linux-image-'))).toBe(false);
    expect(warnings.join('\n')).toMatch(/--kernel-package.* is ignored/);
  });

  it('refuses a --kernel-package that is no package name', async () => {
    await expect(resolve([...BASE, '--dhcp', '--kernel-package=Linux Image'])).rejects.toMatchObject({
      code: 'E_PACKAGE',
    });
  });

  it('boots a host kernel named on the command line', async () => {
    const files = { 'boot/vmlinuz-x': 'k', 'boot/initrd-x': 'i' };
    const { spec, root } = await resolve(
      [...BASE, '--dhcp', '--kernel=/boot/vmlinuz-x', '--initrd=/boot/initrd-x', '--type=pvh'],
      files,
    );
    expect(spec.boot).toMatchObject({
      type: 'pvh',
      useGuestKernel: false,
      kernel: `${root}/boot/vmlinuz-x`,
      initrd: `${root}/boot/initrd-x`,
    });
    expect(spec.install.extraPackages.some((p) => p.startsWith('linux-image-'))).toBe(false);
  });

  it("boots the conf's kernel with --nopygrub", async () => {
    const files = {
      'etc/xen-tools/xen-tools.conf': 'kernel = /boot/vmlinuz-`uname -r`\n',
      'boot/vmlinuz-6.1.0-test': 'k',
    };
    const { spec, root } = await resolve([...BASE, '--dhcp', '--nopygrub'], files);
    expect(spec.boot).toMatchObject({ useGuestKernel: false, kernel: `${root}/boot/vmlinuz-6.1.0-test` });
  });
});

describe('accounts, install, hooks', () => {
  it.each([
    [[], { kind: 'generate', length: 20 }],
    [['--genpass_len=32'], { kind: 'generate', length: 32 }],
    [['--genpass=0'], { kind: 'none' }],
    [['--passwd'], { kind: 'prompt' }],
    [['--password-stdin'], { kind: 'stdin' }],
  ])('takes the root password from %j', async (argv, source) => {
    const { spec } = await resolve([...BASE, '--dhcp', ...argv]);
    expect(spec.accounts.rootPassword).toEqual(source);
  });

  it('reads a password file and SSH keys, and warns about --password', async () => {
    const files = { 'root/pw': 'secret\n', 'root/key.pub': `${PUBKEY}\n# comment\n` };
    const withFile = await resolve(
      [...BASE, '--dhcp', '--password-file=/root/pw', '--ssh-key=/root/key.pub'],
      files,
    );
    expect(withFile.spec.accounts.rootPassword).toEqual({ kind: 'file', path: `${withFile.root}/root/pw` });
    expect(withFile.spec.accounts.sshAuthorizedKeys).toEqual([PUBKEY]);
    const withValue = await resolve([...BASE, '--dhcp', '--password=hunter2']);
    expect(withValue.spec.accounts.rootPassword).toEqual({ kind: 'value', value: 'hunter2' });
    expect(withValue.warnings.join('\n')).toMatch(
      /--password puts the password where other users can see it/,
    );
    expect(withValue.settings.password).toBeUndefined();
  });

  it('installs from a copy or a tarball that exists', async () => {
    const copy = await resolve([...BASE, '--dhcp', '--install-method=copy', '--install-source=/srv/tree'], {
      'srv/tree/': '',
    });
    expect(copy.spec.install).toMatchObject({ method: 'copy', source: `${copy.root}/srv/tree` });
    const tar = await resolve([...BASE, '--dhcp', '--install-method=tar', '--install-source=/srv/t.tar'], {
      'srv/t.tar': 'x',
    });
    expect(tar.spec.install).toMatchObject({ method: 'tar', source: `${tar.root}/srv/t.tar` });
  });

  it('takes the mirror from mirror_<dist>, and warns about an EOL release', async () => {
    const conf = 'mirror_buster = http://archive.example/debian\n';
    const { spec, warnings } = await resolve([...BASE, '--dhcp', '--dist=buster'], {
      'etc/xen-tools/xen-tools.conf': conf,
    });
    expect(spec.install).toMatchObject({ dist: 'buster', mirror: 'http://archive.example/debian' });
    expect(warnings.join('\n')).toMatch(/--dist "buster" is past its end of life/);
  });

  it('finds roles in the role directory and templates in /etc/xen-tools', async () => {
    const files = { 'etc/xen-tools/role.d/udev': '#!/bin/sh\n', 'etc/xen-tools/my.tmpl': 'x' };
    const { spec, root } = await resolve(
      [...BASE, '--dhcp', '--role=udev', '--template=my.tmpl', '--hooks=0'],
      files,
    );
    expect(spec.hooks).toMatchObject({
      enabled: false,
      roles: ['udev'],
      roleDir: `${root}/etc/xen-tools/role.d`,
    });
    expect(spec.output.template).toBe(`${root}/etc/xen-tools/my.tmpl`);
  });

  it('reads the flags that end up on the spec', async () => {
    const { spec } = await resolve([
      ...BASE,
      '--dhcp',
      '--boot',
      '--nokeep',
      '--copyhosts',
      '--nohosts',
      '--force',
      '--accounts',
    ]);
    expect(spec).toMatchObject({
      startAfter: true,
      keep: false,
      copyHosts: true,
      updateHostHosts: false,
      force: true,
    });
    expect(spec.accounts.copyAccounts).toBe(true);
  });
});

/**
 * xen-create-image against the real tools and the Debian mirror: builds bookworm guests and looks
 * inside their images without booting them. The root tree comes from the run's shared root-tree
 * cache (test/helpers/shared-xenkit-cache.ts): bootstrapped here when this file is the first to
 * need it. Needs root.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBin, type CliResult } from '../helpers/cli.js';
import { imageFsType, imageUuid, withMountedImage } from '../helpers/image-files.js';
import { shareXenkitCache } from '../helpers/shared-xenkit-cache.js';

const isRoot = process.getuid?.() === 0;
const PASSWORD = 'Correct-Horse-7-Battery';

interface Summary {
  name: string;
  files: Record<string, string>;
  mac: string;
  sshHostKeys: { type: string; fingerprint: string }[];
}

describe.skipIf(!isRoot)('xen-create-image builds real guests', () => {
  let scratch: string;
  let root: string;
  let dir: string;
  let passwordFile: string;
  const results: Record<string, { result: CliResult; summary: Summary }> = {};

  async function create(name: string, extra: string[]): Promise<{ result: CliResult; summary: Summary }> {
    const result = await runBin(
      'xen-create-image',
      [
        `--hostname=${name}`,
        `--root=${root}`,
        '--dir=/srv/xen',
        '--size=2G',
        '--swap=256M',
        '--password-file=/pw',
        '--json',
        ...extra,
      ],
      { timeoutMs: 900_000 },
    );
    if (result.code !== 0)
      throw new Error(`create ${name} failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
    const summary = JSON.parse(result.stdout) as Summary;
    results[name] = { result, summary };
    return { result, summary };
  }

  const disk = (name: string): string => path.join(dir, 'domains', name, 'disk.img');
  const swap = (name: string): string => path.join(dir, 'domains', name, 'swap.img');
  const readIn = (name: string, file: string): string =>
    withMountedImage(disk(name), (mnt) => fs.readFileSync(path.join(mnt, file), 'utf8'));

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-e2e-'));
    root = path.join(scratch, 'root');
    dir = path.join(root, 'srv', 'xen');
    fs.mkdirSync(dir, { recursive: true });
    shareXenkitCache(root);
    passwordFile = path.join(root, 'pw');
    fs.writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    await create('web1', ['--dhcp', '--fs=ext4', '--image=sparse']);
  });

  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('makes a sparse ext4 disk and a swap image, mode 0600', () => {
    expect(imageFsType(disk('web1'))).toBe('ext4');
    expect(
      execFileSync('blkid', ['-o', 'value', '-s', 'TYPE', swap('web1')], { encoding: 'utf8' }).trim(),
    ).toBe('swap');
    const st = fs.statSync(disk('web1'));
    expect(st.size).toBe(2 * 1024 ** 3);
    expect(st.blocks * 512).toBeLessThan(st.size);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it('writes the hostname, and DHCP networking matched by MAC', () => {
    expect(readIn('web1', 'etc/hostname').trim()).toBe('web1');
    const network = readIn('web1', 'etc/systemd/network/10-xenkit.network');
    expect(network).toContain(`MACAddress=${results.web1!.summary.mac.toLowerCase()}`);
    expect(network).toMatch(/DHCP=(yes|ipv4)/);
  });

  it('mounts by UUID in fstab, never by a Xen device name', () => {
    const fstab = readIn('web1', 'etc/fstab');
    expect(fstab).toContain(`UUID=${imageUuid(disk('web1'))}`);
    expect(fstab).toContain(`UUID=${imageUuid(swap('web1'))}`);
    expect(fstab).not.toMatch(/\/dev\/xvd/);
  });

  it('gives a login console on hvc0 and ttyS0: both named on the kernel command line for the getty generator', () => {
    withMountedImage(disk('web1'), (mnt) => {
      const menu = fs.readFileSync(path.join(mnt, 'boot/grub/menu.lst'), 'utf8');
      expect(menu).toMatch(/^kernel \/boot\/vmlinuz-\S+ root=UUID=\S+ ro console=ttyS0 console=hvc0$/m);
      expect(menu).toContain(`root=UUID=${imageUuid(disk('web1'))}`);
      expect(fs.existsSync(path.join(mnt, 'usr/lib/systemd/system-generators/systemd-getty-generator'))).toBe(
        true,
      );
      const wants = path.join(mnt, 'etc/systemd/system/getty.target.wants');
      expect(fs.existsSync(path.join(wants, 'serial-getty@hvc0.service'))).toBe(false);
    });
  });

  it('switches off the boot units a guest does not need, on the units bookworm really ships', () => {
    withMountedImage(disk('web1'), (mnt) => {
      const etc = path.join(mnt, 'etc/systemd/system');
      expect(fs.existsSync(path.join(mnt, 'lib/systemd/system/e2scrub_reap.service'))).toBe(true);
      expect(fs.existsSync(path.join(etc, 'multi-user.target.wants/e2scrub_reap.service'))).toBe(false);
      for (const module of ['drm', 'efi_pstore', 'loop', 'dm_mod']) {
        // Masked only where bookworm ships the unit (modprobe@.service) that would run it.
        expect(fs.existsSync(path.join(mnt, 'lib/systemd/system/modprobe@.service'))).toBe(true);
        expect(fs.readlinkSync(path.join(etc, `modprobe@${module}.service`))).toBe('/dev/null');
      }
      const conf = fs.readFileSync(path.join(mnt, 'etc/modprobe.d/xenkit-guest.conf'), 'utf8');
      for (const module of ['cfg80211', 'pcspkr', 'psmouse', 'serio_raw'])
        expect(conf).toMatch(new RegExp(`^blacklist ${module}$`, 'm'));
    });
  });

  it("sets root's password as a sha512-crypt hash that verifies", () => {
    const shadow = readIn('web1', 'etc/shadow');
    const hash = shadow
      .split('\n')
      .find((l) => l.startsWith('root:'))!
      .split(':')[1]!;
    expect(hash.startsWith('$6$')).toBe(true);
    const salt = hash.split('$')[2]!;
    const again = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], {
      input: PASSWORD,
      encoding: 'utf8',
    }).trim();
    expect(again).toBe(hash);
  });

  it('leaves machine-id empty and installs a random seed and fresh SSH host keys', () => {
    withMountedImage(disk('web1'), (mnt) => {
      expect(fs.statSync(path.join(mnt, 'etc/machine-id')).size).toBe(0);
      expect(fs.statSync(path.join(mnt, 'var/lib/systemd/random-seed')).size).toBeGreaterThanOrEqual(512);
      for (const type of ['ed25519', 'ecdsa', 'rsa']) {
        expect(fs.existsSync(path.join(mnt, `etc/ssh/ssh_host_${type}_key`))).toBe(true);
      }
      expect(fs.existsSync(path.join(mnt, 'etc/ssh/ssh_host_dsa_key'))).toBe(false);
      expect(fs.readdirSync(path.join(mnt, 'boot')).some((f) => f.startsWith('vmlinuz-'))).toBe(true);
    });
    expect(results.web1!.summary.sshHostKeys.map((k) => k.type).sort()).toEqual(['ecdsa', 'ed25519', 'rsa']);
  });

  it('writes the domain config and a log free of the password', () => {
    const cfg = fs.readFileSync(path.join(root, 'etc/xen/web1.cfg'), 'utf8');
    expect(cfg).toContain("name        = 'web1'");
    expect(cfg).toContain(disk('web1'));
    const log = fs.readFileSync(path.join(root, 'var/log/xen-tools/web1.log'), 'utf8');
    // mkswap: the root filesystem is mkfs'd only when this run's shared cache has no entry yet.
    expect(log).toMatch(/mkswap /);
    expect(log).not.toContain(PASSWORD);
  });

  it('builds an xfs guest with a static address on a full image, with different host keys', async () => {
    const { summary } = await create('db1', [
      '--ip=192.0.2.20',
      '--netmask=255.255.255.0',
      '--gateway=192.0.2.1',
      '--nameserver=192.0.2.53',
      '--fs=xfs',
      '--image=full',
    ]);
    expect(imageFsType(disk('db1'))).toBe('xfs');
    const st = fs.statSync(disk('db1'));
    expect(st.blocks * 512).toBeGreaterThanOrEqual(st.size);
    const network = readIn('db1', 'etc/systemd/network/10-xenkit.network');
    expect(network).toContain('Address=192.0.2.20/24');
    expect(network).toContain('Gateway=192.0.2.1');
    expect(readIn('db1', 'etc/fstab')).toContain(`UUID=${imageUuid(disk('db1'))}`);
    const web1 = results.web1!.summary.sshHostKeys.map((k) => k.fingerprint);
    for (const key of summary.sshHostKeys) expect(web1).not.toContain(key.fingerprint);
    expect(readIn('db1', 'var/lib/systemd/random-seed')).not.toBe(
      readIn('web1', 'var/lib/systemd/random-seed'),
    );
  });

  it('installs by copy and by tar from the tree of the first guest', async () => {
    const tree = path.join(root, 'tree');
    fs.mkdirSync(tree);
    withMountedImage(disk('web1'), (mnt) => {
      execFileSync('cp', ['-a', `${mnt}/.`, tree]);
    });
    const tarball = path.join(root, 'tree.tar.gz');
    // gzip -1: the same .tar.gz format for the tar method, compressed in a third of the time.
    execFileSync('tar', ['--numeric-owner', '--xattrs', '-I', 'gzip -1', '-cf', tarball, '-C', tree, '.']);
    const copied = await create('copy1', ['--dhcp', '--install-method=copy', '--install-source=/tree']);
    const untarred = await create('tar1', [
      '--dhcp',
      '--install-method=tar',
      '--install-source=/tree.tar.gz',
    ]);
    for (const [name, summary] of [
      ['copy1', copied.summary],
      ['tar1', untarred.summary],
    ] as const) {
      expect(readIn(name, 'etc/hostname').trim()).toBe(name);
      expect(readIn(name, 'etc/fstab')).toContain(`UUID=${imageUuid(disk(name))}`);
      const keys = summary.sshHostKeys.map((k) => k.fingerprint);
      for (const key of results.web1!.summary.sshHostKeys) expect(keys).not.toContain(key.fingerprint);
    }
  });
});

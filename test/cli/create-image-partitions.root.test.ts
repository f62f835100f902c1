/**
 * `xen-create-image --partitions=FILE` on image files, for real: a xen-tools layout (/ ext4,
 * /home ext4, /var ext4, two swaps) becomes one image per section, each with its filesystem and the
 * part of the tree below its mount point, fstab mounts them by UUID, the cfg names each as
 * xen-tools numbers them; the guest then boots under QEMU (the host's Debian kernel and initrd,
 * the tree from the cached bookworm tarball of the other root tests) to a login, where findmnt
 * shows /home and /var mounted and both swaps in use; xen-delete-image removes every image.
 * The tarball has no udev (mmdebstrap installs no Recommends), without which systemd waits for
 * every device in vain: Debian's own xen-tools role `udev` installs it from the mirror, as the
 * roles test does. The volumes are ext4 because the guest has no modules of the host kernel: its
 * initrd loads ext4 for the root, nothing else (xfs volumes are made in the LVM scenario of test/vm).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { killQemu, xm } from '../e2e/lab-guest.js';
import { SerialConsole } from '../e2e/serial-console.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import { imageUuid } from '../helpers/image-files.js';

const isRoot = process.getuid?.() === 0;
const UDEV_ROLE = '/etc/xen-tools/role.d/udev';
const NAME = `parts${process.pid}`;
const PASSWORD = 'Parts-Test-Password-4';
const KERNEL = fs.existsSync('/boot')
  ? fs
      .readdirSync('/boot')
      .find((f) => f.startsWith('vmlinuz-') && fs.existsSync(`/boot/initrd.img-${f.slice(8)}`))
  : undefined;
const LAYOUT = `# a layout as xen-tools' sample-server writes it
[root]
size=512M
type=ext4
mountpoint=/
options=defaults,errors=remount-ro

[swap]
size=32M
type=swap

[swap2]
size=16M
type=swap

[home]
size=64M
type=ext4
mountpoint=/home
options=nodev,nosuid

[var]
size=256M
type=ext4
mountpoint=/var
`;
/** TCG on a loaded 2-core machine: about 80 s to the login prompt with a direct kernel. */
const BOOT_MS = 600_000;

describe.skipIf(!isRoot || !KERNEL || !fs.existsSync(UDEV_ROLE))(
  'xen-create-image --partitions on image files, booted',
  () => {
    let scratch = '';
    let root = '';
    let result: CliResult;
    let serial: SerialConsole | undefined;
    const image = (file: string): string => path.join(root, 'srv/xen/domains', NAME, file);
    const debugfsCat = (img: string, file: string): string =>
      execFileSync('debugfs', ['-R', `cat ${file}`, img], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const debugfsLs = (img: string, dir: string): string[] =>
      execFileSync('debugfs', ['-R', `ls ${dir}`, img], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .split(/\s+/)
        .filter((w) => /^[A-Za-z.+_-][\w.+-]*$/.test(w) && !/^\d+$/.test(w));

    beforeAll(async () => {
      scratch = fs.mkdtempSync('/var/tmp/xenkit-parts-');
      root = path.join(scratch, 'root');
      fs.mkdirSync(path.join(root, 'srv/xen'), { recursive: true });
      fs.mkdirSync(path.join(root, 'etc/xen-tools/partitions.d'), { recursive: true });
      fs.writeFileSync(path.join(root, 'etc/xen-tools/partitions.d/small'), LAYOUT);
      fs.writeFileSync(path.join(root, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
      fs.mkdirSync(path.join(root, 'etc/xen-tools/role.d'));
      fs.copyFileSync(UDEV_ROLE, path.join(root, 'etc/xen-tools/role.d/udev'));
      fs.chmodSync(path.join(root, 'etc/xen-tools/role.d/udev'), 0o755);
      fs.mkdirSync(path.join(root, 'boot'));
      const version = KERNEL!.slice('vmlinuz-'.length);
      fs.copyFileSync(`/boot/${KERNEL}`, path.join(root, 'boot', KERNEL!));
      fs.copyFileSync(`/boot/initrd.img-${version}`, path.join(root, 'boot', `initrd.img-${version}`));
      fs.copyFileSync(await bookwormTarball(), path.join(root, 'tree.tar'));
      result = await runBin(
        'xen-create-image',
        [
          `--hostname=${NAME}`,
          `--root=${root}`,
          '--dir=/srv/xen',
          '--partitions=small',
          '--dhcp',
          '--memory=384M',
          '--install-method=tar',
          '--install-source=/tree.tar',
          `--kernel=/boot/${KERNEL}`,
          `--initrd=/boot/initrd.img-${version}`,
          '--password-file=/pw',
          '--role=udev',
          '--json',
        ],
        { timeoutMs: 900_000 },
      );
    }, 1_000_000);

    afterAll(async () => {
      serial?.close();
      if (root) await xm(root, ['destroy', NAME], 60_000).catch(() => undefined);
      await killQemu(NAME);
      if (scratch && process.env.KEEP_WORK !== '1') fs.rmSync(scratch, { recursive: true, force: true });
    });

    it('makes one image per section, named after it, each with its filesystem', () => {
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(fs.readdirSync(path.dirname(image('x'))).sort()).toEqual([
        'home.img',
        'root.img',
        'swap.img',
        'swap2.img',
        'var.img',
      ]);
      const type = (file: string): string =>
        execFileSync('blkid', ['-o', 'value', '-s', 'TYPE', image(file)], { encoding: 'utf8' }).trim();
      expect(['root.img', 'home.img', 'var.img', 'swap.img', 'swap2.img'].map(type)).toEqual([
        'ext4',
        'ext4',
        'ext4',
        'swap',
        'swap',
      ]);
      expect(fs.statSync(image('swap2.img')).size).toBe(16 * 1024 ** 2);
      expect(imageUuid(image('swap2.img'))).not.toBe(imageUuid(image('swap.img')));
      expect(fs.statSync(image('var.img')).size).toBe(256 * 1024 ** 2);
      expect(fs.statSync(image('home.img')).size).toBe(64 * 1024 ** 2);
      const summary = JSON.parse(result.stdout) as {
        files: { disk: string };
        volumes: { mountpoint: string; path: string }[];
      };
      expect(summary.files.disk).toBe(image('root.img'));
      expect(summary.volumes.map((v) => [v.mountpoint, v.path])).toEqual([
        ['/var', image('var.img')],
        ['/home', image('home.img')],
        ['swap', image('swap2.img')],
      ]);
    });

    it('puts each part of the tree on its own filesystem: /var and /home are empty in the root image', () => {
      expect(debugfsLs(image('root.img'), '/var')).toEqual(['.', '..']);
      expect(debugfsLs(image('root.img'), '/home')).toEqual(['.', '..']);
      expect(debugfsLs(image('var.img'), '/')).toEqual(expect.arrayContaining(['lib', 'log', 'cache']));
      expect(debugfsCat(image('var.img'), '/lib/dpkg/status')).toMatch(/^Package: openssh-server$/m);
      expect(debugfsLs(image('root.img'), '/')).toEqual(
        expect.arrayContaining(['etc', 'usr', 'var', 'home']),
      );
    });

    it('mounts every volume by UUID in fstab with its options, swap included', () => {
      const fstab = debugfsCat(image('root.img'), '/etc/fstab');
      const line = (file: string, rest: string): string => `UUID=${imageUuid(image(file))}\t${rest}`;
      expect(fstab).toContain(line('root.img', '/\text4\tdefaults,errors=remount-ro\t0\t1'));
      expect(fstab).toContain(line('var.img', '/var\text4\tdefaults\t0\t2'));
      expect(fstab).toContain(line('home.img', '/home\text4\tnodev,nosuid\t0\t2'));
      expect(fstab).toContain(line('swap.img', 'none\tswap\tsw\t0\t0'));
      expect(fstab).toContain(line('swap2.img', 'none\tswap\tsw\t0\t0'));
      expect(fstab.indexOf('\t/var\t')).toBeLessThan(fstab.indexOf('\t/home\t'));
    });

    it('names one disk per volume in the cfg, numbered as xen-tools numbers them, root= on "/"', () => {
      const cfg = fs.readFileSync(path.join(root, 'etc/xen', `${NAME}.cfg`), 'utf8');
      expect(cfg).toMatch(/^root {8}= '\/dev\/xvda3 ro'$/m);
      const disks = [...cfg.matchAll(/'file:([^,]+),(xvda\d),w'/g)].map((m) => [path.basename(m[1]!), m[2]]);
      expect(disks).toEqual([
        ['root.img', 'xvda3'],
        ['home.img', 'xvda5'],
        ['var.img', 'xvda4'],
        ['swap2.img', 'xvda2'],
        ['swap.img', 'xvda1'],
      ]);
    });

    it('boots under QEMU to a login, with /home and /var mounted from their volumes and both swaps on', async () => {
      const started = await xm(root, ['create', NAME]);
      expect(started.code, started.stderr).toBe(0);
      serial = await SerialConsole.connect(
        path.join(root, 'run/xenkit/qemu', NAME, 'console.sock'),
        NAME,
        path.join(scratch, 'console.txt'),
      );
      await serial.login('root', PASSWORD, BOOT_MS);
      const mounts = await serial.run('findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS');
      expect(mounts.status).toBe(0);
      const row = (target: string): string[] | undefined =>
        mounts.output
          .split('\n')
          .map((l) => l.split(' '))
          .find((f) => f[0] === target);
      expect(row('/var')?.[2]).toBe('ext4');
      expect(row('/home')?.[2]).toBe('ext4');
      expect(row('/home')?.[3]).toMatch(/(^|,)nosuid(,|$)/);
      expect(row('/home')?.[3]).toMatch(/(^|,)nodev(,|$)/);
      expect(row('/')?.[1]).toBe('/dev/vda');
      expect(new Set([row('/')?.[1], row('/var')?.[1], row('/home')?.[1]]).size).toBe(3);
      const uuids = await serial.run('findmnt -rn -o TARGET,UUID /var; findmnt -rn -o TARGET,UUID /home');
      expect(uuids.output).toContain(`/var ${imageUuid(image('var.img'))}`);
      expect(uuids.output).toContain(`/home ${imageUuid(image('home.img'))}`);
      const swaps = await serial.run('tail -n +2 /proc/swaps');
      expect(swaps.output.match(/^\/dev\/vd[a-e]\s+partition/gm)).toHaveLength(2);
      const swapUuids = await serial.run('swapon --show=UUID --noheadings');
      expect(swapUuids.output.split(/\s+/).filter(Boolean).sort()).toEqual(
        [imageUuid(image('swap.img')), imageUuid(image('swap2.img'))].sort(),
      );
      serial.close();
      serial = undefined;
      expect((await xm(root, ['destroy', NAME], 60_000)).code).toBe(0);
    }, 900_000);

    it('removes every volume it made when the run fails after the last step that makes them', async () => {
      const failed = await runBin(
        'xen-create-image',
        [
          '--hostname=fail1',
          `--root=${root}`,
          '--dir=/srv/xen',
          '--partitions=small',
          '--dhcp',
          '--install-method=tar',
          '--install-source=/tree.tar',
          '--genpass=1',
          '--quiet',
        ],
        { env: { XENKIT_FAILPOINT: 'storage.commit' }, timeoutMs: 300_000 },
      );
      expect(failed.code, failed.stderr).toBe(1);
      const log = fs.readFileSync(path.join(root, 'var/log/xen-tools/fail1.log'), 'utf8');
      for (const file of ['root.img', 'var.img', 'home.img', 'swap.img', 'swap2.img'])
        expect(log).toContain(file);
      expect(fs.existsSync(path.join(root, 'srv/xen/domains/fail1'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/xen/fail1.cfg'))).toBe(false);
      expect(execFileSync('losetup', ['-a'], { encoding: 'utf8' })).not.toContain(root);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(root);
    });

    it('xen-delete-image removes every volume', async () => {
      const removed = await runBin('xen-delete-image', [`--root=${root}`, '--dir=/srv/xen', NAME]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(fs.existsSync(path.dirname(image('x')))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/xen', `${NAME}.cfg`))).toBe(false);
    });
  },
);

/**
 * `xen-create-image --type=hvm` for real: a whole-disk image (MBR with syslinux' code, the root
 * filesystem in partition 1 at 1 MiB with extlinux in it), a cfg that boots it through the
 * firmware, and a boot under QEMU (SeaBIOS -> extlinux -> the guest's own kernel from its /boot,
 * no -kernel) to a login. The guest tree is the cached bookworm tarball of the other root tests
 * with the host's Debian kernel and initrd added under /boot, as a linux-image package puts them;
 * Debian's own xen-tools role `udev` installs udev, without which systemd waits for every device
 * in vain (as in the --partitions test). A run failed after its last step (an empty filesystem,
 * --install=0, for speed) leaves no image, loop device or mount behind.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { killQemu, xm } from '../e2e/lab-guest.js';
import { SerialConsole } from '../e2e/serial-console.js';
import { runBin, type CliResult } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const UDEV_ROLE = '/etc/xen-tools/role.d/udev';
const NAME = `hvm${process.pid}`;
const PASSWORD = 'Hvm-Test-Password-7';
const KERNEL = fs.existsSync('/boot')
  ? fs
      .readdirSync('/boot')
      .find((f) => f.startsWith('vmlinuz-') && fs.existsSync(`/boot/initrd.img-${f.slice(8)}`))
  : undefined;
const hasExtlinux = fs.existsSync('/usr/bin/extlinux') || fs.existsSync('/usr/sbin/extlinux');
/** TCG on a loaded 2-core machine: SeaBIOS and extlinux add seconds to the ~80 s of a direct boot. */
const BOOT_MS = 600_000;
const MiB = 1024 * 1024;

describe.skipIf(!isRoot || !KERNEL || !hasExtlinux || !fs.existsSync(UDEV_ROLE))(
  'xen-create-image --type=hvm, booted from its own disk',
  () => {
    let scratch = '';
    let root = '';
    let result: CliResult;
    let serial: SerialConsole | undefined;
    const version = KERNEL?.slice('vmlinuz-'.length) ?? '';
    const image = (file: string): string => path.join(root, 'srv/xen/domains', NAME, file);

    beforeAll(async () => {
      scratch = fs.mkdtempSync('/var/tmp/xenkit-hvm-');
      root = path.join(scratch, 'root');
      fs.mkdirSync(path.join(root, 'srv/xen'), { recursive: true });
      fs.mkdirSync(path.join(root, 'etc/xen-tools/role.d'), { recursive: true });
      fs.copyFileSync(UDEV_ROLE, path.join(root, 'etc/xen-tools/role.d/udev'));
      fs.chmodSync(path.join(root, 'etc/xen-tools/role.d/udev'), 0o755);
      fs.writeFileSync(path.join(root, 'pw'), `${PASSWORD}\n`, { mode: 0o600 });
      // The guest's own kernel: the tree with /boot/vmlinuz-V and /boot/initrd.img-V added.
      const tree = path.join(root, 'tree.tar');
      fs.copyFileSync(await bookwormTarball(), tree);
      execFileSync('tar', [
        '-rf',
        tree,
        '-C',
        '/',
        '--transform',
        's|^boot/|./boot/|',
        `boot/vmlinuz-${version}`,
        `boot/initrd.img-${version}`,
      ]);
      result = await runBin(
        'xen-create-image',
        [
          `--hostname=${NAME}`,
          `--root=${root}`,
          '--dir=/srv/xen',
          '--type=hvm',
          '--size=1G',
          '--swap=32M',
          '--dhcp',
          '--memory=384M',
          '--install-method=tar',
          '--install-source=/tree.tar',
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

    it('makes a whole disk of --size: partition 1 from 1 MiB, bootable, holding the root filesystem', () => {
      expect(result.code, result.stderr + result.stdout).toBe(0);
      expect(fs.statSync(image('disk.img')).size).toBe(1024 * MiB);
      const rows = execFileSync('partx', ['-g', '-o', 'NR,START,SECTORS,TYPE,FLAGS', image('disk.img')], {
        encoding: 'utf8',
      });
      expect(rows.trim().split(/\s+/)).toEqual(['1', '2048', String((1023 * MiB) / 512), '0x83', '0x80']);
      const summary = JSON.parse(result.stdout) as { files: { disk: string } };
      expect(summary.files.disk).toBe(image('disk.img'));
      const probe = (what: string): string =>
        execFileSync('blkid', ['-p', '-O', String(MiB), '-o', 'value', '-s', what, image('disk.img')], {
          encoding: 'utf8',
        }).trim();
      expect(probe('TYPE')).toBe('ext4');
      // syslinux' MBR code ends its first bytes with the jump to its loader; a zeroed MBR cannot boot.
      const mbr = Buffer.alloc(512);
      const fd = fs.openSync(image('disk.img'), 'r');
      fs.readSync(fd, mbr, 0, 512, 0);
      fs.closeSync(fd);
      expect(mbr.subarray(0, 440).some((b) => b !== 0)).toBe(true);
      expect(
        execFileSync('blkid', ['-p', '-o', 'value', '-s', 'PTTYPE', image('disk.img')], {
          encoding: 'utf8',
        }).trim(),
      ).toBe('dos');
    });

    it('writes a cfg that boots the disk through the firmware, with the serial port as console', () => {
      const cfg = fs.readFileSync(path.join(root, 'etc/xen', `${NAME}.cfg`), 'utf8');
      const dc = parseXlCfg(cfg);
      expect([dc.type, dc.kernel, dc.bootloader, dc.raw.boot, dc.raw.serial]).toEqual([
        'hvm',
        undefined,
        undefined,
        'c',
        'pty',
      ]);
      expect(dc.disks.map((d) => [path.basename(d.target), d.vdev])).toEqual([
        ['disk.img', 'xvda'],
        ['swap.img', 'xvdb'],
      ]);
    });

    it('boots under QEMU through SeaBIOS and extlinux to a login, on its own kernel, root on partition 1', async () => {
      const started = await xm(root, ['create', NAME]);
      expect(started.code, started.stderr).toBe(0);
      serial = await SerialConsole.connect(
        path.join(root, 'run/xenkit/qemu', NAME, 'console.sock'),
        NAME,
        path.join(scratch, 'console.txt'),
      );
      await serial.login('root', PASSWORD, BOOT_MS);
      const console = fs.readFileSync(path.join(scratch, 'console.txt'), 'utf8');
      expect(console).toMatch(/SYSLINUX 6\.\d+/);
      const qemuArgv = execFileSync('pgrep', ['-af', `qemu-system.*${NAME}`], { encoding: 'utf8' });
      expect(qemuArgv).not.toContain('-kernel');
      const uuid = execFileSync(
        'blkid',
        ['-p', '-O', String(MiB), '-o', 'value', '-s', 'UUID', image('disk.img')],
        {
          encoding: 'utf8',
        },
      ).trim();
      const cmdline = await serial.run('cat /proc/cmdline');
      expect(cmdline.output).toContain(`BOOT_IMAGE=/boot/vmlinuz-${version} root=UUID=${uuid} ro`);
      const rootMount = await serial.run('findmnt -rn -o SOURCE,UUID /');
      expect(rootMount.output.trim()).toBe(`/dev/vda1 ${uuid}`);
      const boot = await serial.run('ls -1 /boot/extlinux; tail -n +2 /proc/swaps');
      expect(boot.output).toMatch(/^extlinux\.conf$/m);
      expect(boot.output).toMatch(/^ldlinux\.sys$/m);
      expect(boot.output).toMatch(/^\/dev\/vdb\s+partition/m);
      serial.close();
      serial = undefined;
      expect((await xm(root, ['destroy', NAME], 60_000)).code).toBe(0);
    }, 900_000);

    it('leaves no image, loop device or mount when the run fails after its last step', async () => {
      const failed = await runBin(
        'xen-create-image',
        [
          '--hostname=fail1',
          `--root=${root}`,
          '--dir=/srv/xen',
          '--type=hvm',
          '--size=1G',
          '--dhcp',
          // An empty filesystem: the whole-disk steps (loop mount, extlinux, table) run all the same.
          '--install=0',
          '--quiet',
        ],
        { env: { XENKIT_FAILPOINT: 'storage.commit' }, timeoutMs: 300_000 },
      );
      expect(failed.code, failed.stderr).toBe(1);
      expect(fs.readFileSync(path.join(root, 'var/log/xen-tools/fail1.log'), 'utf8')).toContain('extlinux');
      expect(fs.existsSync(path.join(root, 'srv/xen/domains/fail1'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/xen/fail1.cfg'))).toBe(false);
      expect(execFileSync('losetup', ['-a'], { encoding: 'utf8' })).not.toContain(root);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toMatch(/xenkit-boot-/);
    });
  },
);

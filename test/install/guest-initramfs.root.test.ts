/**
 * The guest initramfs configuration against the real initramfs-tools: mkinitramfs with a copy of
 * the host's /etc/initramfs-tools plus xenkit's conf.d file and hook, for a kernel whose modules
 * are installed here. Skipped where there is no mkinitramfs or no such kernel.
 */
import { existsSync, readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COLDPLUG_SUBSYSTEMS, writeGuestInitramfsConfig } from '../../src/install/guest-initramfs.js';
import { runCommand } from '../../src/tools/exec.js';

const kernel = existsSync('/lib/modules')
  ? readdirSync('/lib/modules').find((v) => existsSync(`/lib/modules/${v}/modules.dep`))
  : undefined;
const usable =
  kernel !== undefined && existsSync('/usr/sbin/mkinitramfs') && existsSync('/etc/initramfs-tools');
const scratch = await mkdtemp(path.join(tmpdir(), 'xenkit-initramfs-root-'));
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe.skipIf(!usable)('guest initramfs with the real mkinitramfs', () => {
  it('holds the Xen and virtio disk drivers and the root filesystems, and little else', async () => {
    const root = path.join(scratch, 'root');
    await writeGuestInitramfsConfig(root);
    const confdir = path.join(scratch, 'confdir');
    await cp('/etc/initramfs-tools', confdir, { recursive: true });
    await cp(path.join(root, 'etc/initramfs-tools'), confdir, { recursive: true });
    const image = path.join(scratch, 'initrd.img');
    await runCommand(['mkinitramfs', '-d', confdir, '-o', image, kernel ?? ''], { timeoutMs: 300_000 });
    const listing = (await runCommand(['lsinitramfs', image])).stdout;
    const modules = new Set(
      listing
        .split('\n')
        .filter((f) => /\.ko(\.\w+)?$/.test(f))
        .map((f) => path.basename(f).replace(/\.ko(\.\w+)?$/, '')),
    );
    for (const name of ['xen-blkfront', 'virtio_blk', 'virtio_pci', 'virtio_scsi', 'ext4', 'xfs', 'btrfs']) {
      expect(modules.has(name), name).toBe(true);
    }
    // MODULES=most would bring hundreds (network, USB, sound, ...); the list brings its dependencies.
    expect(modules.size).toBeLessThan(80);
    expect(modules.has('e1000e')).toBe(false);
    expect((await stat(image)).size).toBeLessThan(20 * 1024 * 1024);
    // The coldplug hook narrowed the initramfs's copy of udev's script, not the package's.
    const unpacked = path.join(scratch, 'unpacked');
    await runCommand(['unmkinitramfs', image, unpacked], { timeoutMs: 120_000 });
    const udev = await readFile(path.join(unpacked, 'scripts/init-top/udev'), 'utf8');
    const matches = COLDPLUG_SUBSYSTEMS.map((s) => `--subsystem-match=${s}`).join(' ');
    expect(udev).toContain(`\nudevadm trigger --type=devices --action=add ${matches}\n`);
    expect(udev).not.toContain('--type=subsystems');
    expect(udev).toContain('\nudevadm settle');
    const packaged = await readFile('/usr/share/initramfs-tools/scripts/init-top/udev', 'utf8');
    expect(packaged).toMatch(/^udevadm trigger --type=devices --action=add$/m);
  }, 320_000);
});

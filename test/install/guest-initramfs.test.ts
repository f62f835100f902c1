import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  COLDPLUG_SUBSYSTEMS,
  GUEST_INITRAMFS_MODULES,
  INITRAMFS_COLDPLUG_HOOK_FILE,
  INITRAMFS_CONF_FILE,
  INITRAMFS_HOOK_FILE,
  installsKernel,
  renderColdplugHook,
  renderInitramfsConf,
  renderInitramfsHook,
  writeGuestInitramfsConfig,
} from '../../src/install/guest-initramfs.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('guest initramfs configuration', () => {
  it('selects MODULES=list and names the hook that adds the modules', () => {
    expect(renderInitramfsConf()).toMatch(/^MODULES=list$/m);
    expect(renderInitramfsConf()).toContain(`/${INITRAMFS_HOOK_FILE}`);
  });

  it('adds the Xen and virtio disk drivers and every root filesystem xenkit makes', () => {
    const hook = renderInitramfsHook();
    expect(hook.startsWith('#!/bin/sh\n')).toBe(true);
    expect(hook).toContain('prereqs) prereqs; exit 0 ;;');
    for (const module of [
      'xen-blkfront',
      'virtio_blk',
      'virtio_pci',
      'virtio_scsi',
      'ext4',
      'xfs',
      'btrfs',
    ]) {
      expect(GUEST_INITRAMFS_MODULES).toContain(module);
    }
    expect(hook).toContain(`manual_add_modules ${GUEST_INITRAMFS_MODULES.join(' ')}\n`);
  });

  it('writes the files with the package modes, even under a strict umask', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-initramfs-'));
    const old = process.umask(0o077);
    try {
      await writeGuestInitramfsConfig(dir);
    } finally {
      process.umask(old);
    }
    expect((await stat(path.join(dir, INITRAMFS_HOOK_FILE))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dir, INITRAMFS_CONF_FILE))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(dir, INITRAMFS_COLDPLUG_HOOK_FILE))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(dir, INITRAMFS_COLDPLUG_HOOK_FILE), 'utf8')).toBe(renderColdplugHook());
    for (const d of [
      'etc',
      'etc/initramfs-tools',
      'etc/initramfs-tools/conf.d',
      'etc/initramfs-tools/hooks',
    ]) {
      expect((await stat(path.join(dir, d))).mode & 0o777, d).toBe(0o755);
    }
    expect(await readFile(path.join(dir, INITRAMFS_CONF_FILE), 'utf8')).toBe(renderInitramfsConf());
  });

  it("narrows the coldplug of Debian's udev script in the initramfs tree, run by sh", async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-coldplug-'));
    const hook = path.join(dir, 'hook');
    await writeFile(hook, renderColdplugHook());
    const script = path.join(dir, 'scripts/init-top/udev');
    await mkdir(path.dirname(script), { recursive: true });
    await writeFile(script, DEBIAN_UDEV_SCRIPT);
    execFileSync('sh', [hook], { env: { ...process.env, DESTDIR: dir } });
    const edited = await readFile(script, 'utf8');
    const matches = COLDPLUG_SUBSYSTEMS.map((s) => `--subsystem-match=${s}`).join(' ');
    expect(edited).toBe(
      DEBIAN_UDEV_SCRIPT.replace('udevadm trigger --type=subsystems --action=add\n', '').replace(
        'udevadm trigger --type=devices --action=add\n',
        `udevadm trigger --type=devices --action=add ${matches}\n`,
      ),
    );
    for (const s of ['pci', 'xen', 'virtio', 'block']) expect(COLDPLUG_SUBSYSTEMS).toContain(s);
    // Run again (update-initramfs -u copies the package's script afresh; here it is already
    // narrowed): nothing changes.
    execFileSync('sh', [hook], { env: { ...process.env, DESTDIR: dir } });
    expect(await readFile(script, 'utf8')).toBe(edited);
    // mkinitramfs asks every hook for its prerequisites: none.
    expect(execFileSync('sh', [hook, 'prereqs'], { encoding: 'utf8' })).toBe('\n');
  });

  it("leaves another udev's script, and a tree without one, as they are", async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-coldplug-'));
    const hook = path.join(dir, 'hook');
    await writeFile(hook, renderColdplugHook());
    execFileSync('sh', [hook], { env: { ...process.env, DESTDIR: dir } });
    const script = path.join(dir, 'scripts/init-top/udev');
    await mkdir(path.dirname(script), { recursive: true });
    const other = DEBIAN_UDEV_SCRIPT.replace(
      'udevadm trigger --type=devices --action=add\n',
      'udevadm trigger --action=add\n',
    );
    await writeFile(script, other);
    execFileSync('sh', [hook], { env: { ...process.env, DESTDIR: dir } });
    expect(await readFile(script, 'utf8')).toBe(other);
  });

  it.each([
    [['systemd-sysv', 'linux-image-amd64'], true],
    [['linux-image-virtual'], true],
    [['systemd-sysv', 'linux-headers-amd64'], false],
    [[], false],
  ])('knows whether %j installs a kernel: %s', (include, expected) => {
    expect(installsKernel(include)).toBe(expected);
  });
});

/** scripts/init-top/udev as bookworm's udev 252 ships it. */
const DEBIAN_UDEV_SCRIPT = `#!/bin/sh -e

PREREQS=""

prereqs() { echo "$PREREQS"; }

case "$1" in
    prereqs)
    prereqs
    exit 0
    ;;
esac

if [ -w /sys/kernel/uevent_helper ]; then
	echo > /sys/kernel/uevent_helper
fi

if [ "\${quiet:-n}" = "y" ]; then
	log_level=notice
else
	log_level=info
fi

SYSTEMD_LOG_LEVEL=$log_level /lib/systemd/systemd-udevd --daemon --resolve-names=never

udevadm trigger --type=subsystems --action=add
udevadm trigger --type=devices --action=add
udevadm settle || true

# Leave udev running to process events that come in out-of-band (like USB
# connections)
`;

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GUEST_INITRAMFS_MODULES,
  INITRAMFS_CONF_FILE,
  INITRAMFS_HOOK_FILE,
  installsKernel,
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

  it('writes both files with the package modes, even under a strict umask', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-initramfs-'));
    const old = process.umask(0o077);
    try {
      await writeGuestInitramfsConfig(dir);
    } finally {
      process.umask(old);
    }
    expect((await stat(path.join(dir, INITRAMFS_HOOK_FILE))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dir, INITRAMFS_CONF_FILE))).mode & 0o777).toBe(0o644);
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

  it.each([
    [['systemd-sysv', 'linux-image-amd64'], true],
    [['linux-image-virtual'], true],
    [['systemd-sysv', 'linux-headers-amd64'], false],
    [[], false],
  ])('knows whether %j installs a kernel: %s', (include, expected) => {
    expect(installsKernel(include)).toBe(expected);
  });
});

/**
 * Taking the kernel out of a root image that a killed guest left behind (real mkfs.ext4, debugfs,
 * dumpe2fs, e2fsck): the journal still needs recovery and an allocation bitmap no longer matches
 * its checksum, which makes a plain `debugfs` refuse to open the filesystem.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractGuestKernel, needsJournalRecovery } from '../../../src/hypervisors/qemu/guest-kernel.js';
import type { DiskConfig } from '../../../src/model/domain-config.js';
import { runCommand } from '../../../src/tools/exec.js';

const isRoot = process.getuid?.() === 0;
const VERSION = '6.1.0-99-amd64';

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!isRoot)('the guest kernel out of an uncleanly stopped ext4 image', () => {
  let work = '';
  let image = '';
  const kernelBytes = Buffer.alloc(300_000, 0x4b);
  const initrdBytes = Buffer.alloc(120_000, 0x49);

  beforeAll(async () => {
    work = mkdtempSync('/var/tmp/xenkit-guest-kernel-');
    const tree = path.join(work, 'tree');
    mkdirSync(path.join(tree, 'boot'), { recursive: true });
    writeFileSync(path.join(tree, 'boot', `vmlinuz-${VERSION}`), kernelBytes);
    writeFileSync(path.join(tree, 'boot', `initrd.img-${VERSION}`), initrdBytes);
    image = path.join(work, 'disk.img');
    await runCommand(['mkfs.ext4', '-q', '-F', '-d', tree, image, '64M']);
    // What a destroy in the middle of writeback leaves: recovery pending, a bitmap checksum off.
    await runCommand(['debugfs', '-w', '-R', 'feature needs_recovery', image]);
    await runCommand(['debugfs', '-w', '-R', 'set_bg 0 block_bitmap_csum 0x1234', image]);
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is an image that plain debugfs cannot open', async () => {
    expect(await needsJournalRecovery(image)).toBe(true);
    const plain = await runCommand(['debugfs', '-R', 'ls -p /boot', image]);
    expect(plain.stdout).not.toContain('vmlinuz-');
    expect(plain.stderr).toMatch(/checksum does not match/i);
  });

  it('still yields the kernel and initrd, and leaves the guest disk byte for byte as it was', async () => {
    const before = sha256(image);
    const disk: DiskConfig = {
      target: image,
      format: 'raw',
      vdev: 'xvda2',
      access: 'rw',
      isCdrom: false,
      raw: `file:${image},xvda2,w`,
    };
    const cache = path.join(work, 'cache');
    const found = await extractGuestKernel(disk, cache, 'crashed');
    expect(found.version).toBe(VERSION);
    expect(readFileSync(found.kernel).equals(kernelBytes)).toBe(true);
    expect(found.initrd && readFileSync(found.initrd).equals(initrdBytes)).toBe(true);
    expect(sha256(image)).toBe(before);
    expect(await needsJournalRecovery(image)).toBe(true);
  });
});

/**
 * pygrub for QEMU: copies the guest's own kernel and initrd out of its root disk image into the
 * runtime directory, so the guest boots what its package manager installed.
 *
 * Choice of kernel: the newest `/boot/vmlinuz-VERSION` by version order, with the matching
 * `/boot/initrd.img-VERSION` when present. (grub.cfg is not consulted: Debian's default entry is
 * the newest kernel anyway, and a guest built for Xen often has no grub at all.)
 * ext2/3/4 images are read with `debugfs` without mounting, in its catastrophic mode (`-c`: no
 * allocation bitmaps are read, so an image whose bitmaps a killed guest left half written still
 * reads); when the journal still needs recovery, it is replayed into a scratch copy first, never
 * into the guest's own disk. Other filesystems (xfs, btrfs) are mounted read-only without log
 * replay on an auto-clearing loop device and unmounted afterwards. A qcow2 (or other
 * non-raw) image is first converted to a temporary raw file, which is removed again.
 * Images with a partition table are not searched: name `kernel=` in the cfg for those.
 */
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { runtimeError } from '../../errors.js';
import type { DiskConfig } from '../../model/domain-config.js';
import { probeBlock } from '../../tools/blkid.js';
import { runCommand } from '../../tools/exec.js';
import { GUEST_MOUNT_OPTIONS, mountArgv, unmountDir } from '../../tools/mount.js';
import { copyImage } from '../../tools/cp.js';
import { convertImage } from '../../tools/qemu-img.js';
import { blockFormat } from './argv.js';

/** The boot files copied out of a guest image. */
export interface GuestBootFiles {
  kernel: string;
  initrd: string | undefined;
  /** The kernel version (`6.1.0-56-amd64`). */
  version: string;
}

/** Orders kernel versions: numeric runs compare as numbers (`6.1.0-10` after `6.1.0-9`). */
export function compareKernelVersions(a: string, b: string): number {
  const split = (v: string): string[] => v.match(/\d+|\D+/g) ?? [];
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d/.test(x) ? Number(x) : undefined;
    const ny = /^\d/.test(y) ? Number(y) : undefined;
    const diff = nx !== undefined && ny !== undefined ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    if (diff !== 0) return diff;
  }
  return 0;
}

/** From the regular files of /boot: the newest kernel version and whether its initrd is there. */
export function chooseKernel(
  bootFiles: readonly string[],
): { version: string; hasInitrd: boolean } | undefined {
  const versions = bootFiles
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .sort(compareKernelVersions);
  const version = versions.at(-1);
  return version === undefined
    ? undefined
    : { version, hasInitrd: bootFiles.includes(`initrd.img-${version}`) };
}

/** Parses `debugfs -R 'ls -p DIR'`: the names of regular files. */
export function parseDebugfsLs(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    // /inode/mode/uid/gid/name/size/
    const fields = line.split('/');
    const mode = fields[2] ?? '';
    const name = fields[5];
    if (name && name !== '.' && name !== '..' && mode.startsWith('10')) names.push(name);
  }
  return names;
}

/** Copies the newest kernel (and its initrd) out of the root `disk` into `cacheDir`. */
export async function extractGuestKernel(
  disk: DiskConfig,
  cacheDir: string,
  guest: string,
): Promise<GuestBootFiles> {
  if (!existsSync(disk.target)) {
    // blkid finds nothing in a missing file either; say what is really wrong.
    throw runtimeError(
      'E_DISK_MISSING',
      `guest "${guest}": its root disk ${disk.target} does not exist`,
      'check the disk line of the cfg, or recreate the guest (xen-create-image --force)',
    );
  }
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const scratch = mkdtempSync(path.join(cacheDir, '.extract-'));
  try {
    let image = disk.target;
    const format = blockFormat(disk.format);
    if (format !== 'raw') {
      image = path.join(scratch, 'root.raw');
      await convertImage({
        source: disk.target,
        sourceFormat: format as 'qcow2',
        target: image,
        targetFormat: 'raw',
      });
    }
    const identity = await probeBlock(image);
    const type = identity?.type;
    if (type === undefined || identity?.usage !== 'filesystem') {
      throw runtimeError(
        'E_GUEST_KERNEL',
        `guest "${guest}": ${disk.target} holds no filesystem blkid recognises (a partitioned disk?), so no kernel can be taken from it`,
        "name the kernel in the cfg (kernel = '/boot/vmlinuz-...', ramdisk = '...')",
      );
    }
    const found = /^ext[234]$/.test(type)
      ? await copyWithDebugfs(await replayedCopy(image, scratch), cacheDir, guest, disk.target)
      : await copyFromMount(image, type, scratch, cacheDir, guest, disk.target);
    return found;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** True when the ext2/3/4 filesystem in `image` has a journal that still needs recovery. */
export async function needsJournalRecovery(image: string): Promise<boolean> {
  const result = await runCommand(['dumpe2fs', '-h', image], { allowFailure: true });
  const features = /^Filesystem features:\s*(.*)$/m.exec(result.stdout)?.[1] ?? '';
  return features.split(/\s+/).includes('needs_recovery');
}

/**
 * The image to read the kernel from: `image` itself when its journal is clean (or it is a block
 * device, too big to copy), else a sparse scratch copy with the journal replayed, so that a
 * kernel installed just before the guest was killed is read as the guest will see it.
 */
async function replayedCopy(image: string, scratch: string): Promise<string> {
  if (image.startsWith('/dev/') || !(await needsJournalRecovery(image))) return image;
  let copy = image;
  if (!image.startsWith(scratch + path.sep)) {
    copy = path.join(scratch, 'replayed.raw');
    await copyImage(image, copy);
  }
  // Exit 1 means "errors corrected"; anything worse still leaves debugfs -c to try.
  await runCommand(['e2fsck', '-p', '-E', 'journal_only', copy], { allowFailure: true });
  return copy;
}

function noKernel(guest: string, target: string): Error {
  return runtimeError(
    'E_GUEST_KERNEL',
    `guest "${guest}": no /boot/vmlinuz-* in ${target}`,
    "install a kernel in the guest (linux-image-cloud-amd64) or name one in the cfg (kernel = '...')",
  );
}

async function copyWithDebugfs(
  image: string,
  cacheDir: string,
  guest: string,
  target: string,
): Promise<GuestBootFiles> {
  const listing = await runCommand(['debugfs', '-c', '-R', 'ls -p /boot', image]);
  const chosen = chooseKernel(parseDebugfsLs(listing.stdout));
  if (!chosen) throw noKernel(guest, target);
  const kernel = path.join(cacheDir, `vmlinuz-${chosen.version}`);
  const initrd = chosen.hasInitrd ? path.join(cacheDir, `initrd.img-${chosen.version}`) : undefined;
  await dumpFile(image, `/boot/vmlinuz-${chosen.version}`, kernel);
  if (initrd) await dumpFile(image, `/boot/initrd.img-${chosen.version}`, initrd);
  return { kernel, initrd, version: chosen.version };
}

async function dumpFile(image: string, inside: string, out: string): Promise<void> {
  rmSync(out, { force: true });
  // debugfs exits 0 even when dump fails, so the result is checked on disk.
  const result = await runCommand(['debugfs', '-c', '-R', `dump "${inside}" "${out}"`, image]);
  let size = -1;
  try {
    size = statSync(out).size;
  } catch {
    // not written
  }
  if (size <= 0) {
    throw runtimeError(
      'E_GUEST_KERNEL',
      `debugfs could not copy ${inside} out of ${image}`,
      result.stderr.trim(),
    );
  }
}

async function copyFromMount(
  image: string,
  type: string,
  scratch: string,
  cacheDir: string,
  guest: string,
  target: string,
): Promise<GuestBootFiles> {
  const dir = path.join(scratch, 'mnt');
  mkdirSync(dir);
  // Read-only without replaying a journal: the guest may be running or uncleanly stopped.
  const noReplay = type === 'xfs' ? ['norecovery'] : type === 'btrfs' ? ['rescue=nologreplay'] : [];
  const loop = image.startsWith('/dev/') ? [] : ['loop'];
  await runCommand(
    mountArgv(image, dir, { fsType: type, options: ['ro', ...GUEST_MOUNT_OPTIONS, ...loop, ...noReplay] }),
  );
  try {
    const boot = path.join(dir, 'boot');
    let names: string[] = [];
    try {
      names = readdirSync(boot).filter((n) => lstatSync(path.join(boot, n)).isFile());
    } catch {
      // no /boot
    }
    const chosen = chooseKernel(names);
    if (!chosen) throw noKernel(guest, target);
    const kernel = path.join(cacheDir, `vmlinuz-${chosen.version}`);
    const initrd = chosen.hasInitrd ? path.join(cacheDir, `initrd.img-${chosen.version}`) : undefined;
    copyFileSync(path.join(boot, `vmlinuz-${chosen.version}`), kernel);
    if (initrd) copyFileSync(path.join(boot, `initrd.img-${chosen.version}`), initrd);
    return { kernel, initrd, version: chosen.version };
  } finally {
    await unmountDir(dir);
  }
}

/**
 * The whole-disk image of an HVM guest: an MBR partition table with syslinux' boot code, and the
 * root filesystem in partition 1 at 1 MiB, holding extlinux. The filesystem is made and filled
 * on its own as for every other guest (mke2fs -d, no mount), extlinux is installed through a loop
 * mount of that filesystem alone, and only then is 1 MiB inserted in front of it (fallocate
 * --insert-range: no copy) for the table. No loop device ever sees the partition table, so
 * nothing depends on the kernel scanning loop partitions (off in many containers). On a block
 * device (an LVM volume) the filesystem is made in place behind the table, through a loop device
 * with --offset and --sizelimit over the device (makeWholeDiskDevice).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError } from '../errors.js';
import { renderMbr, SECTOR_SIZE } from '../formats/mbr.js';
import type { PlanAction, StepScope } from '../plan/plan.js';
import { extlinuxInstallArgv, findMbrBin, installExtlinux, MBR_BIN_CANDIDATES } from '../tools/extlinux.js';
import { insertFileRange, insertRangeArgv } from '../tools/fallocate.js';
import { attachLoopArgv, attachLoop, detachLoop, detachLoopArgv } from '../tools/losetup.js';
import {
  describePrivateMountPoint,
  GUEST_MOUNT_OPTIONS,
  makePrivateMountPoint,
  mountArgv,
  mountFs,
  umountArgv,
  unmountFs,
} from '../tools/mount.js';

/** Where partition 1 starts: 1 MiB, the alignment fdisk and parted use. */
export const PARTITION_OFFSET = 1024 * 1024;
/**
 * The root filesystem's block size: syslinux 6.04 fails to read a kernel from an ext4 of 1 KiB
 * blocks ("Loading /boot/vmlinuz-... failed: I/O error"), which mke2fs makes below 512 MiB.
 */
export const EXTLINUX_BLOCK_SIZE = 4096;
/** Where extlinux lives in the guest, beside its extlinux.conf. */
export const EXTLINUX_DIR = '/boot/extlinux';

const LINUX_PARTITION = 0x83;

/** The size of the root filesystem on a whole disk of `diskBytes`. */
export function partitionBytes(diskBytes: number): number {
  return diskBytes - PARTITION_OFFSET;
}

/** The dry-run view of `finishWholeDisk` on the raw image `target`. */
export function describeFinishWholeDisk(target: string): PlanAction[] {
  return [
    { kind: 'run', argv: attachLoopArgv(target) },
    ...describeInstallBootLoaderOn('/dev/loopN'),
    { kind: 'run', argv: detachLoopArgv('/dev/loopN') },
    { kind: 'run', argv: insertRangeArgv(target, 0, PARTITION_OFFSET) },
    {
      kind: 'note',
      text: `write the MBR of ${target}: mbr.bin boot code, partition 1 (Linux, bootable) from 1 MiB to the end`,
    },
  ];
}

/**
 * Turns the raw image `target`, which holds the guest's root filesystem (with EXTLINUX_DIR in
 * it), into a bootable whole disk: extlinux installed, 1 MiB inserted in front, the MBR written.
 * The file grows by PARTITION_OFFSET.
 */
export async function finishWholeDisk(target: string, ctx: StepScope): Promise<void> {
  const bootCode = await readBootCode();
  await installBootLoader(target, ctx);
  const fsBytes = (await stat(target)).size;
  await shiftForPartitionTable(target, ctx);
  await writeMbr(target, bootCode, fsBytes);
}

/**
 * The dry-run view of the whole disk on the block device `device` (an LVM volume): the
 * partition shown by a loop device over its bytes from 1 MiB on, the filesystem made there
 * (`makeFs`), extlinux installed in it, the MBR written at the device's start.
 */
export function describeWholeDiskDevice(
  device: string,
  deviceBytes: number,
  makeFs: (partition: string) => PlanAction[],
): PlanAction[] {
  const sizeLimit = Math.floor(partitionBytes(deviceBytes) / SECTOR_SIZE) * SECTOR_SIZE;
  return [
    { kind: 'run', argv: attachLoopArgv(device, false, { offset: PARTITION_OFFSET, sizeLimit }) },
    ...makeFs('/dev/loopN'),
    ...describeInstallBootLoaderOn('/dev/loopN'),
    { kind: 'run', argv: detachLoopArgv('/dev/loopN') },
    {
      kind: 'note',
      text: `write the MBR of ${device}: mbr.bin boot code, partition 1 (Linux, bootable) from 1 MiB to the end`,
    },
  ];
}

/**
 * Makes the block device `device` of `deviceBytes` a bootable whole disk, as finishWholeDisk
 * makes an image file one: the filesystem goes straight to its place behind the partition table
 * (`makeFs` gets a loop device showing only the partition's bytes, nothing is moved), extlinux
 * is installed through that loop device, and the MBR is written last. The same boot code, table
 * and extlinux as the file path; only the shift differs.
 */
export async function makeWholeDiskDevice(
  device: string,
  deviceBytes: number,
  ctx: StepScope,
  makeFs: (partition: string, partitionBytes: number) => Promise<unknown>,
): Promise<void> {
  const bootCode = await readBootCode();
  const fsBytes = Math.floor(partitionBytes(deviceBytes) / SECTOR_SIZE) * SECTOR_SIZE;
  const partition = await attachLoop(device, ctx, { offset: PARTITION_OFFSET, sizeLimit: fsBytes });
  await makeFs(partition, fsBytes);
  await installBootLoaderOn(partition, ctx);
  await detachLoop(partition, ctx);
  await writeMbr(device, bootCode, fsBytes);
}

/** syslinux' 440 bytes of MBR boot code, or E_BOOTLOADER naming the packages. */
async function readBootCode(): Promise<Buffer> {
  const mbrBin = findMbrBin();
  if (mbrBin === undefined) {
    throw runtimeError(
      'E_BOOTLOADER',
      `no syslinux MBR code on this host (looked for ${MBR_BIN_CANDIDATES.join(', ')})`,
      'install the extlinux and syslinux-common packages (apt-get install extlinux syslinux-common)',
    );
  }
  return (await readFile(mbrBin)).subarray(0, 440);
}

/** Writes the first sector of `target`: boot code, one bootable Linux partition of `fsBytes` at 1 MiB. */
async function writeMbr(target: string, bootCode: Buffer, fsBytes: number): Promise<void> {
  const sector = renderMbr({
    bootCode,
    diskSignature: randomBytes(4).readUInt32LE(0),
    partitions: [
      {
        startSector: PARTITION_OFFSET / SECTOR_SIZE,
        sectors: Math.floor(fsBytes / SECTOR_SIZE),
        type: LINUX_PARTITION,
        bootable: true,
      },
    ],
  });
  const handle = await open(target, 'r+');
  try {
    await handle.write(sector, 0, sector.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The dry-run view of installBootLoaderOn. */
function describeInstallBootLoaderOn(device: string): PlanAction[] {
  const dir = describePrivateMountPoint('xenkit-boot-');
  return [
    { kind: 'mkdir', path: dir, mode: 0o700 },
    { kind: 'run', argv: mountArgv(device, dir, { options: [...GUEST_MOUNT_OPTIONS] }) },
    { kind: 'run', argv: extlinuxInstallArgv(path.join(dir, EXTLINUX_DIR)) },
    { kind: 'run', argv: umountArgv(dir) },
    { kind: 'remove', path: dir },
  ];
}

/** Loop-mounts the filesystem image and runs `extlinux --install` on its EXTLINUX_DIR. */
async function installBootLoader(fsImage: string, ctx: StepScope): Promise<void> {
  const device = await attachLoop(fsImage, ctx);
  await installBootLoaderOn(device, ctx);
  await detachLoop(device, ctx);
}

/** Mounts the filesystem on `device` and runs `extlinux --install` on its EXTLINUX_DIR. */
async function installBootLoaderOn(device: string, ctx: StepScope): Promise<void> {
  const point = await makePrivateMountPoint('xenkit-boot-');
  const dirUndo = `remove mount point ${point.dir}`;
  ctx.undo.push(dirUndo, () => point.remove());
  await mountFs(device, point.dir, ctx, { options: [...GUEST_MOUNT_OPTIONS] });
  // Made by the boot-menu step with extlinux.conf; an empty filesystem (--install=0) lacks it.
  await mkdir(path.join(point.dir, EXTLINUX_DIR), { recursive: true, mode: 0o755 });
  await installExtlinux(path.join(point.dir, EXTLINUX_DIR), { sink: ctx.sink, signal: ctx.signal });
  await unmountFs(point.dir, ctx);
  await point.remove();
  ctx.undo.release(dirUndo);
}

/**
 * Moves the filesystem up by PARTITION_OFFSET: a hole inserted at 0 where the host's filesystem
 * can (ext4, xfs), else the bytes copied up in place from the end (sparseness is lost then).
 */
async function shiftForPartitionTable(file: string, ctx: StepScope): Promise<void> {
  try {
    await insertFileRange(file, 0, PARTITION_OFFSET, { sink: ctx.sink, signal: ctx.signal });
    return;
  } catch (error) {
    ctx.sink({
      type: 'warn',
      message: `fallocate --insert-range failed on ${file} (not ext4 or xfs?): copying the filesystem 1 MiB up instead`,
    });
    if (ctx.signal?.aborted) throw error;
  }
  await shiftByCopy(file, PARTITION_OFFSET);
}

/** Copies every byte of `file` `by` bytes up, from the end, then zeroes the first `by` bytes. */
async function shiftByCopy(file: string, by: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const size = (await handle.stat()).size;
    const chunk = Buffer.alloc(by);
    for (let end = size; end > 0; end -= by) {
      const start = Math.max(0, end - by);
      const { bytesRead } = await handle.read(chunk, 0, end - start, start);
      await handle.write(chunk, 0, bytesRead, start + by);
    }
    await handle.write(Buffer.alloc(by), 0, by, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

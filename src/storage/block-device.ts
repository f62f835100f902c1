/** Existing block devices (`--image-dev`, `--swap-dev`): vetted before mkfs writes over them. */
import { constants, statSync } from 'node:fs';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { runtimeError, usageError } from '../errors.js';
import { readMountTable } from '../tools/mount.js';

/** Whether `file` (a symlink followed: `/dev/VG/LV`) is a block device. */
export function isBlockDevice(file: string): boolean {
  try {
    return statSync(file).isBlockDevice();
  } catch {
    return false;
  }
}

/** A block device that is free to be formatted. */
export interface PreparedDevice {
  /** As given. */
  path: string;
  /** With symlinks resolved (`/dev/vg/lv` -> `/dev/dm-3`). */
  realPath: string;
  /** `major:minor`. */
  majorMinor: string;
  sizeBytes: number;
}

/** Where to look; tests point these at fixture files. */
export interface DeviceProbePaths {
  sysBlock: string;
  swaps: string;
  mountInfo: string;
}

const HOST: DeviceProbePaths = {
  sysBlock: '/sys/dev/block',
  swaps: '/proc/swaps',
  mountInfo: '/proc/self/mountinfo',
};

/**
 * Checks that `devicePath` is a block device that nothing uses: not mounted (it or one of its
 * partitions), not active swap, no holders (device-mapper, md), and not opened exclusively by
 * the kernel. Throws a XenkitError naming the device and the user otherwise.
 */
export async function prepareDevice(
  devicePath: string,
  probe: DeviceProbePaths = HOST,
): Promise<PreparedDevice> {
  const st = await stat(devicePath).catch((error: NodeJS.ErrnoException) => {
    throw usageError(
      'E_NO_DEVICE',
      `device ${devicePath} does not exist`,
      'check --image-dev / --swap-dev',
      error,
    );
  });
  if (!st.isBlockDevice()) {
    throw usageError(
      'E_NOT_BLOCK_DEVICE',
      `${devicePath} is not a block device`,
      'use --dir for image files, --image-dev for devices',
    );
  }
  const realPath = await realpath(devicePath);
  const majorMinor = `${major(st.rdev)}:${minor(st.rdev)}`;
  const sysDir = path.join(probe.sysBlock, majorMinor);
  const partitions = await listPartitions(sysDir);
  const ours = new Set([majorMinor, ...partitions.map((p) => p.majorMinor)]);
  const names = new Set([realPath, ...partitions.map((p) => `/dev/${p.name}`)]);

  for (const entry of await readMountTable(probe.mountInfo)) {
    const source = await realpath(entry.source).catch(() => entry.source);
    if (ours.has(entry.majorMinor) || names.has(source)) {
      throw runtimeError(
        'E_DEVICE_BUSY',
        `${devicePath} is mounted on ${entry.mountPoint}`,
        `unmount it first: umount ${entry.mountPoint}`,
      );
    }
  }
  for (const swap of await readSwaps(probe.swaps)) {
    const swapSt = await stat(swap).catch(() => undefined);
    const swapId = swapSt?.isBlockDevice() ? `${major(swapSt.rdev)}:${minor(swapSt.rdev)}` : undefined;
    if ((swapId && ours.has(swapId)) || names.has(await realpath(swap).catch(() => swap))) {
      throw runtimeError(
        'E_DEVICE_BUSY',
        `${devicePath} is in use as swap (${swap})`,
        `turn it off first: swapoff ${swap}`,
      );
    }
  }
  for (const id of ours) {
    const holders = await readdir(path.join(probe.sysBlock, id, 'holders')).catch(() => []);
    if (holders.length > 0) {
      throw runtimeError(
        'E_DEVICE_BUSY',
        `${devicePath} is held by ${holders.map((h) => `/dev/${h}`).join(', ')}`,
        'release it first (dmsetup remove, mdadm --stop, vgchange -an, ...)',
      );
    }
  }
  await checkExclusiveOpen(devicePath, probe);
  const sectors = await readFile(path.join(sysDir, 'size'), 'utf8').catch(() => '0');
  return { path: devicePath, realPath, majorMinor, sizeBytes: Number(sectors.trim()) * 512 };
}

/** Parses /proc/swaps into the paths of active swap areas. */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.split(/\s+/)[0] ?? '')
    .filter(Boolean)
    .map((name) => name.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}

async function readSwaps(file: string): Promise<string[]> {
  return parseSwaps(await readFile(file, 'utf8').catch(() => ''));
}

async function listPartitions(sysDir: string): Promise<{ name: string; majorMinor: string }[]> {
  const found: { name: string; majorMinor: string }[] = [];
  for (const name of await readdir(sysDir).catch(() => [])) {
    const dev = await readFile(path.join(sysDir, name, 'dev'), 'utf8').catch(() => undefined);
    const isPartition = await stat(path.join(sysDir, name, 'partition')).then(
      () => true,
      () => false,
    );
    if (dev && isPartition) found.push({ name, majorMinor: dev.trim() });
  }
  return found;
}

/**
 * Linux refuses an O_EXCL open of a block device the kernel has claimed (mounted, swap, held),
 * which also covers users the checks above cannot see (another mount namespace).
 */
async function checkExclusiveOpen(devicePath: string, probe: DeviceProbePaths): Promise<void> {
  if (probe !== HOST) return;
  try {
    const handle = await open(devicePath, constants.O_RDONLY | constants.O_EXCL);
    await handle.close();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBUSY') {
      throw runtimeError(
        'E_DEVICE_BUSY',
        `${devicePath} is in use by the kernel (mounted, swap or held elsewhere)`,
        'find its user with: lsblk ' + devicePath,
        error,
      );
    }
    throw error;
  }
}

function major(rdev: number): number {
  return Number((BigInt(rdev) >> 8n) & 0xfffn);
}

function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & 0xfff00n));
}

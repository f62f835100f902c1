import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { prepareDevice } from '../../src/storage/block-device.js';
import { makeFilesystem } from '../../src/storage/filesystem.js';
import { makeSwap } from '../../src/storage/swap.js';
import { runCommand } from '../../src/tools/exec.js';
import { hostStorageState, makeContext, makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

const MiB = 1024 ** 2;
let tmp: string;
let before: Awaited<ReturnType<typeof hostStorageState>>;
beforeAll(() => {
  tmp = makeTempDir('blockdev');
});
afterAll(() => removeDir(tmp));
beforeEach(async () => {
  before = await hostStorageState([tmp]);
});
afterEach(async () => {
  expect(await hostStorageState([tmp])).toEqual(before);
});

/** A sparse file attached to a loop device for the duration of `fn`. */
async function withLoop<T>(name: string, fn: (device: string) => Promise<T>): Promise<T> {
  const file = path.join(tmp, name);
  await runCommand(['truncate', '-s', '128M', file]);
  const device = (await runCommand(['losetup', '--find', '--show', file])).stdout.trim();
  try {
    return await fn(device);
  } finally {
    await runCommand(['losetup', '--detach', device]);
  }
}

async function mounted<T>(device: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = makeTempDir('mnt');
  await runCommand(['mount', device, dir]);
  try {
    return await fn(dir);
  } finally {
    await runCommand(['umount', dir]);
    removeDir(dir);
  }
}

describe('prepareDevice (real loop devices)', () => {
  it('accepts an unused block device and reports its size', async () => {
    await withLoop('free.img', async (device) => {
      expect(await prepareDevice(device)).toMatchObject({
        path: device,
        realPath: device,
        sizeBytes: 128 * MiB,
      });
    });
  });

  it.each([
    ['a regular file', () => path.join(tmp, 'plain-file'), 'E_NOT_BLOCK_DEVICE'],
    ['a missing path', () => path.join(tmp, 'missing'), 'E_NO_DEVICE'],
    ['a character device', () => '/dev/null', 'E_NOT_BLOCK_DEVICE'],
  ])('rejects %s', async (_what, target, code) => {
    await runCommand(['touch', path.join(tmp, 'plain-file')]);
    await expect(prepareDevice(target())).rejects.toMatchObject({ code, kind: 'usage' });
  });

  it('rejects a mounted device, naming where it is mounted', async () => {
    await withLoop('mounted.img', async (device) => {
      await runCommand(['mkfs.ext4', '-q', device]);
      await mounted(device, async (dir) => {
        await expect(prepareDevice(device)).rejects.toMatchObject({
          code: 'E_DEVICE_BUSY',
          message: `${device} is mounted on ${dir}`,
        });
      });
    });
  });

  it('rejects a disk one of whose partitions is mounted (sysfs and mount table from fixtures)', async () => {
    // This kernel shows no loop partitions (no MBR support), so the kernel's view is a fixture.
    await withLoop('partitioned.img', async (device) => {
      const st = await stat(device);
      const id = `${Math.floor(st.rdev / 256)}:${st.rdev % 256}`;
      const sys = path.join(tmp, 'sys');
      const part = path.join(sys, id, `${path.basename(device)}p1`);
      await mkdir(part, { recursive: true });
      await mkdir(path.join(sys, id, 'holders'), { recursive: true });
      await writeFile(path.join(part, 'dev'), '259:7\n');
      await writeFile(path.join(part, 'partition'), '1\n');
      await writeFile(path.join(sys, id, 'size'), '262144\n');
      const mountInfo = path.join(tmp, 'mountinfo');
      await writeFile(
        mountInfo,
        '22 1 254:0 / / rw - ext4 /dev/vda rw\n90 22 259:7 / /srv/guest rw - ext4 /dev/other-name rw\n',
      );
      const probe = { sysBlock: sys, mountInfo, swaps: path.join(tmp, 'no-swaps') };
      await expect(prepareDevice(device, probe)).rejects.toMatchObject({
        code: 'E_DEVICE_BUSY',
        message: `${device} is mounted on /srv/guest`,
      });
      await writeFile(mountInfo, '22 1 254:0 / / rw - ext4 /dev/vda rw\n');
      await writeFile(path.join(sys, id, 'holders', 'dm-3'), '');
      await expect(prepareDevice(device, probe)).rejects.toMatchObject({
        code: 'E_DEVICE_BUSY',
        message: `${device} is held by /dev/dm-3`,
      });
    });
  });

  it('rejects a device in use as swap', async () => {
    await withLoop('swap.img', async (device) => {
      await runCommand(['mkswap', device]);
      const on = await runCommand(['swapon', device], { allowFailure: true });
      if (on.exitCode !== 0) return; // swapon is not allowed in every container; the other checks still ran
      try {
        await expect(prepareDevice(device)).rejects.toMatchObject({
          code: 'E_DEVICE_BUSY',
          message: expect.stringContaining('swap'),
        });
      } finally {
        await runCommand(['swapoff', device]);
      }
    });
  });

  it('makes a filesystem and a swap area straight onto devices, mount-free', async () => {
    await withLoop('disk-dev.img', async (disk) => {
      await withLoop('swap-dev.img', async (swap) => {
        const ctx = makeContext();
        const prepared = await prepareDevice(disk);
        const uuid = '5eed0000-dddd-4eee-8fff-000000000001';
        const result = await makeFilesystem(
          { target: disk, fs: 'ext4', uuid, sizeBytes: prepared.sizeBytes },
          ctx,
        );
        expect(result).toMatchObject({ uuid, type: 'ext4' });
        await prepareDevice(swap);
        expect(await makeSwap({ target: swap, uuid: '5eed0000-dddd-4eee-8fff-000000000002' }, ctx)).toBe(
          '5eed0000-dddd-4eee-8fff-000000000002',
        );
        expect(ctx.undo.size).toBe(0);
      });
    });
  });
});

import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FsType } from '../../src/model/guest-spec.js';
import { executePlan } from '../../src/plan/executor.js';
import type { Plan } from '../../src/plan/plan.js';
import { stateKey } from '../../src/plan/step-state.js';
import { makeFilesystem } from '../../src/storage/filesystem.js';
import { createImageFile, type ImageFile } from '../../src/storage/image-file.js';
import { readFreeSpace } from '../../src/storage/free-space.js';
import { scanTree } from '../../src/storage/tree-scan.js';
import { runCommand } from '../../src/tools/exec.js';
import { buildSampleTree } from '../helpers/sample-tree.js';
import {
  hostStorageState,
  makeTempDir,
  removeDir,
  withPathFirst,
  writeFakeTool,
} from '../helpers/storage-fixtures.js';

const MiB = 1024 ** 2;
const IMAGE = stateKey<ImageFile>('storage.image');
let tmp: string;
let tree: string;
let fakeBin: string;
let before: Awaited<ReturnType<typeof hostStorageState>>;

beforeAll(async () => {
  tmp = makeTempDir('faults');
  tree = path.join(tmp, 'tree');
  fakeBin = path.join(tmp, 'bin');
  await mkdir(tree);
  await mkdir(fakeBin);
  await buildSampleTree(tree);
});
afterAll(() => removeDir(tmp));
beforeEach(async () => {
  before = await hostStorageState([tmp]);
});
afterEach(async () => {
  expect(await hostStorageState([tmp])).toEqual(before);
});

interface BuildOptions {
  dir: string;
  fs: FsType;
  size: number;
  allocation?: 'sparse' | 'full';
  populateFrom?: string;
}

/** The storage part of a create-image plan: make the disk image, then the filesystem. */
function storagePlan(options: BuildOptions): Plan {
  const file = path.join(options.dir, 'domains/web1/disk.img');
  return {
    subject: 'guest web1',
    steps: [
      {
        id: 'storage.disk',
        title: `Create ${file}`,
        actions: [],
        run: async (ctx) => {
          const image = await createImageFile(
            { path: file, size: options.size, allocation: options.allocation ?? 'sparse' },
            ctx,
          );
          IMAGE.set(ctx, image);
        },
      },
      {
        id: 'storage.mkfs',
        title: `Make ${options.fs} on ${file}`,
        actions: [],
        run: async (ctx) => {
          const image = IMAGE.get(ctx);
          if (!image) throw new Error('the image step did not run');
          await makeFilesystem(
            {
              target: image.workPath,
              fs: options.fs,
              populateFrom: options.populateFrom,
              sizeBytes: options.size,
            },
            ctx,
          );
        },
      },
    ],
  };
}

/** A directory with a file that existed before the run; returns a check that it is untouched. */
async function withNeighbour(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const neighbour = path.join(dir, 'neighbour.img');
  await writeFile(neighbour, 'was here before');
  return async () => {
    expect(await readFile(neighbour, 'utf8')).toBe('was here before');
    expect(await readdir(dir)).toEqual(['neighbour.img']);
  };
}

describe('a failed or cancelled build leaves nothing behind', () => {
  it('removes the image and its directories when mkfs fails (a failing fake mkfs first on PATH)', async () => {
    const dir = path.join(tmp, 'fake-mkfs');
    const untouched = await withNeighbour(dir);
    const bin = path.join(fakeBin, 'mkfs');
    await mkdir(bin);
    writeFakeTool(bin, 'mkfs.ext4', 'echo "mkfs.ext4: injected failure" >&2; exit 1');
    const run = withPathFirst(bin, () =>
      executePlan(storagePlan({ dir, fs: 'ext4', size: 64 * MiB, populateFrom: tree })),
    );
    await expect(run).rejects.toMatchObject({
      code: 'E_EXEC',
      message: expect.stringContaining('injected failure'),
    });
    await untouched();
  });

  it('unmounts, detaches and removes everything when the copy into a loop mount fails', async () => {
    const dir = path.join(tmp, 'fake-cp');
    const untouched = await withNeighbour(dir);
    const bin = path.join(fakeBin, 'cp-fails');
    await mkdir(bin);
    writeFakeTool(bin, 'cp', 'echo "cp: injected failure" >&2; exit 1');
    const run = withPathFirst(bin, () =>
      executePlan(storagePlan({ dir, fs: 'xfs', size: 320 * MiB, populateFrom: tree })),
    );
    await expect(run).rejects.toMatchObject({ message: expect.stringContaining('injected failure') });
    await untouched();
  });

  it('unwinds the loop mount when the run is cancelled (SIGTERM) in the middle of the copy', async () => {
    const dir = path.join(tmp, 'cancel');
    const untouched = await withNeighbour(dir);
    const bin = path.join(fakeBin, 'cp-slow');
    await mkdir(bin);
    writeFakeTool(bin, 'cp', 'exec sleep 60');
    const controller = new AbortController();
    const run = withPathFirst(bin, () =>
      executePlan(storagePlan({ dir, fs: 'btrfs', size: 200 * MiB, populateFrom: tree }), {
        signal: controller.signal,
        sink: (e) => {
          if (e.type === 'exec' && e.argv[0] === 'mount')
            setTimeout(() => controller.abort(new Error('SIGTERM')), 300);
        },
      }),
    );
    await expect(run).rejects.toMatchObject({ code: 'E_CANCELLED' });
    await untouched();
  });
});

describe('a full disk (a 20 MiB ext4 mounted on a temporary directory)', () => {
  let small: string;
  beforeAll(async () => {
    const backing = path.join(tmp, 'small.ext4');
    small = path.join(tmp, 'small');
    await mkdir(small);
    await runCommand(['truncate', '-s', '20M', backing]);
    await runCommand(['mkfs.ext4', '-q', '-F', '-m', '0', backing]);
    await runCommand(['mount', '-o', 'loop', backing, small]);
  });
  afterAll(async () => {
    await runCommand(['umount', small]);
  });

  it('refuses a full image that does not fit, up front, naming the path and the free space', async () => {
    const dir = path.join(small, 'full-up-front');
    const untouched = await withNeighbour(dir);
    const run = executePlan(storagePlan({ dir, fs: 'ext4', size: 64 * MiB, allocation: 'full' }));
    await expect(run).rejects.toMatchObject({
      code: 'E_NO_SPACE',
      message: expect.stringMatching(/64M needed but only .*M free/),
    });
    await untouched();
  });

  it('turns ENOSPC in the middle of mkfs into E_NO_SPACE and removes the half-made sparse image', async () => {
    const dir = path.join(small, 'mid-mkfs');
    const untouched = await withNeighbour(dir);
    const medium = path.join(tmp, 'medium-tree');
    await mkdir(medium);
    await runCommand([
      'dd',
      'if=/dev/urandom',
      `of=${path.join(medium, 'blob')}`,
      'bs=1M',
      'count=6',
      'status=none',
    ]);
    // Leave room for the tree's data (so the up-front check passes) but not for mkfs's metadata
    // too (the small disk has no root reserve, so what statfs calls available is all there is).
    const filler = path.join(small, 'filler');
    const spare = (await readFreeSpace(small)) - (await scanTree(medium)).allocatedBytes - 64 * 1024;
    await runCommand(['fallocate', '--length', String(spare), filler]);
    try {
      const run = executePlan(storagePlan({ dir, fs: 'ext4', size: 256 * MiB, populateFrom: medium }));
      await expect(run).rejects.toMatchObject({
        code: 'E_NO_SPACE',
        message: expect.stringContaining('disk.img: no space left'),
      });
      await untouched();
    } finally {
      await rm(filler);
    }
  });

  it('refuses a tree larger than the free space before formatting anything', async () => {
    const dir = path.join(small, 'tree-too-big');
    const untouched = await withNeighbour(dir);
    const big = path.join(tmp, 'big-tree');
    await mkdir(big);
    await runCommand([
      'dd',
      'if=/dev/urandom',
      `of=${path.join(big, 'blob')}`,
      'bs=1M',
      'count=24',
      'status=none',
    ]);
    const run = executePlan(storagePlan({ dir, fs: 'xfs', size: 320 * MiB, populateFrom: big }));
    await expect(run).rejects.toMatchObject({
      code: 'E_NO_SPACE',
      message: expect.stringMatching(/needed for the tree/),
    });
    await untouched();
  });
});

/**
 * The root-tree cache's image copy into a filesystem that fills up: a one-line E_NO_SPACE naming
 * the guest disk and the step, and the half-written image removed by the unwinding. Needs root
 * (a small tmpfs).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import type { RootfsEntry } from '../../src/install/rootfs-cache-store.js';
import { useEntryAsDisk } from '../../src/install/rootfs-cache-use.js';
import { executePlan } from '../../src/plan/executor.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1024 ** 2;

describe.skipIf(!isRoot)('a cached root filesystem copied into a full filesystem', () => {
  let scratch = '';
  let small = '';
  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-nospace-'));
    small = path.join(scratch, 'small');
    fs.mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4M,mode=0700', 'tmpfs', small]);
  });
  afterAll(() => {
    if (small) execFileSync('umount', [small]);
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('fails with one line naming the disk and the step, and leaves nothing behind', async () => {
    const imagePath = path.join(scratch, 'entry.img');
    fs.writeFileSync(imagePath, randomBytes(12 * MiB));
    const entry = {
      key: 'k'.repeat(64),
      dir: scratch,
      imagePath,
      manifest: { image: { bytes: 12 * MiB, dataCrc32: 0 } },
      lastUsed: new Date(),
      allocatedBytes: 12 * MiB,
    } as unknown as RootfsEntry;
    const disk = path.join(small, 'domains', 'web1', 'disk.img');
    fs.mkdirSync(path.dirname(disk), { recursive: true });
    const spec = {
      path: disk,
      size: 12 * MiB,
      allocation: 'sparse',
      overwrite: false,
      uuid: 'u',
      label: 'l',
    };
    const error = await executePlan({
      subject: 'guest web1',
      steps: [
        {
          id: 'install.tree',
          title: 'Install bookworm (mmdebstrap, root-tree cache)',
          actions: [],
          run: async (ctx) => {
            await useEntryAsDisk(
              entry,
              spec as Parameters<typeof useEntryAsDisk>[1],
              path.join(scratch, 'mnt'),
              ctx,
            );
          },
        },
      ],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect((error as XenkitError).code).toBe('E_NO_SPACE');
    expect((error as XenkitError).message).toMatch(
      new RegExp(
        `^${disk}: no space left on the device .* during step "Install bookworm \\(mmdebstrap, root-tree cache\\)"$`,
      ),
    );
    expect((error as XenkitError).hint).toMatch(/free some space or choose another --dir/);
    expect(fs.readdirSync(path.dirname(disk))).toEqual([]);
  });
});

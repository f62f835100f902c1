import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMounted, mountFs, readMountTable, unmountDir, unmountFs } from '../../src/tools/mount.js';
import { attachLoop } from '../../src/tools/losetup.js';
import { runCommand } from '../../src/tools/exec.js';
import { makeContext, makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

let tmp: string;
let image: string;
beforeAll(async () => {
  tmp = makeTempDir('mount');
  image = path.join(tmp, 'fs.img');
  await runCommand(['truncate', '-s', '32M', image]);
  await runCommand(['mkfs.ext4', '-q', image]);
});
afterAll(() => removeDir(tmp));

describe('mountFs (real mount)', () => {
  it('mounts with options, shows up in the mount table, and unmounts in the normal flow', async () => {
    const ctx = makeContext();
    const device = await attachLoop(image, ctx);
    const dir = makeTempDir('mnt');
    await mountFs(device, dir, ctx, { fsType: 'ext4', options: ['ro', 'noatime'] });
    expect((await readMountTable()).find((e) => e.mountPoint === dir)).toMatchObject({
      fsType: 'ext4',
      source: device,
    });
    expect(ctx.undo.describe()).toEqual([`detach loop device ${device}`, `unmount ${dir}`]);
    await unmountFs(dir, ctx);
    expect(await isMounted(dir)).toBe(false);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    removeDir(dir);
  });

  it('retries a busy unmount and finally detaches it lazily', async () => {
    const ctx = makeContext();
    const device = await attachLoop(image, ctx);
    const dir = makeTempDir('busy');
    await mountFs(device, dir, ctx);
    const holder = spawn('sleep', ['30'], { cwd: dir, stdio: 'ignore' });
    try {
      await unmountDir(dir, ctx.sink, 2);
      expect(await isMounted(dir)).toBe(false);
      const umounts = ctx.events.filter((e) => e.type === 'exec' && e.argv[0] === 'umount');
      expect(umounts.map((e) => (e.type === 'exec' ? e.argv.includes('--lazy') : false))).toEqual([
        false,
        false,
        true,
      ]);
    } finally {
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    ctx.undo.release(`unmount ${dir}`);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    removeDir(dir);
  });
});

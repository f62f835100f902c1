/** Growing file-backed guests for real: raw ext4, xfs and btrfs images, swap, qcow2; shrinking refused. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildResizePlan, type ResizeOptions } from '../../src/images/resize-plan.js';
import { executePlan } from '../../src/plan/executor.js';
import type { Paths } from '../../src/paths.js';
import { runBin } from '../helpers/cli.js';
import { makeFakeGuest, makeRoot } from '../helpers/fake-guests.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1024 * 1024;
const OPTIONS: ResizeOptions = { diskSize: undefined, swapSize: undefined, running: { xl: false } };
let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const imageOf = (name: string, file: string): string => path.join(paths.root, 'srv/domains', name, file);

/** A guest whose disk.img holds `fs` with /data/keep.txt, and whose swap.img has a known UUID. */
function makeGuest(name: string, fsType: 'ext4' | 'xfs' | 'btrfs'): void {
  makeFakeGuest(paths, name);
  const tree = path.join(paths.root, 'tree');
  fs.mkdirSync(path.join(tree, 'data'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'data/keep.txt'), 'still here\n');
  const disk = imageOf(name, 'disk.img');
  // xfs needs 300M at least.
  if (fsType === 'xfs') fs.truncateSync(disk, 320 * MiB);
  if (fsType === 'ext4') run('mkfs.ext4', ['-q', '-F', '-d', tree, disk]);
  if (fsType === 'xfs') run('mkfs.xfs', ['-q', '-f', disk]);
  if (fsType === 'btrfs') run('mkfs.btrfs', ['-q', '-f', '-r', tree, disk]);
  run('mkswap', ['-U', '11111111-2222-3333-4444-555555555555', '-L', 'swp', imageOf(name, 'swap.img')]);
}

function fsBytes(image: string): number {
  const out = run('dumpe2fs', ['-h', image]);
  const count = Number(/^Block count:\s+(\d+)/m.exec(out)?.[1]);
  const size = Number(/^Block size:\s+(\d+)/m.exec(out)?.[1]);
  return count * size;
}

describe.skipIf(!isRoot)('resize-image on image files', () => {
  it('grows a raw ext4 disk sparsely and its filesystem, and the data survives', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    const { plan, outcome } = await buildResizePlan(paths, 'g1', { ...OPTIONS, diskSize: 96 * MiB });
    await executePlan(plan);
    const disk = imageOf('g1', 'disk.img');
    expect(fs.statSync(disk).size).toBe(96 * MiB);
    expect(fsBytes(disk)).toBe(96 * MiB);
    expect(run('debugfs', ['-R', 'cat /data/keep.txt', disk])).toBe('still here\n');
    expect(outcome.targets).toEqual([
      { role: 'disk', path: disk, oldSizeBytes: 64 * MiB, newSizeBytes: 96 * MiB, fs: 'ext4' },
    ]);
  });

  it('grows the swap and keeps its UUID and label', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    const { plan } = await buildResizePlan(paths, 'g1', { ...OPTIONS, swapSize: 48 * MiB });
    await executePlan(plan);
    const swap = imageOf('g1', 'swap.img');
    expect(fs.statSync(swap).size).toBe(48 * MiB);
    const probe = run('blkid', ['-p', '-o', 'export', swap]);
    expect(probe).toContain('UUID=11111111-2222-3333-4444-555555555555');
    expect(probe).toContain('LABEL=swp');
  });

  it('grows each swap of a --partitions layout by its section name and keeps every UUID', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    // A layout with two swap sections: swap (xvda1) and swap2 (xvda3), named as create-image names them.
    const swap2 = imageOf('g1', 'swap2.img');
    fs.writeFileSync(swap2, '');
    fs.truncateSync(swap2, 16 * MiB);
    run('mkswap', ['-U', '66666666-7777-8888-9999-000000000000', '-L', 'swp2', swap2]);
    const cfg = path.join(paths.xenDir, 'g1.cfg');
    fs.writeFileSync(
      cfg,
      fs.readFileSync(cfg, 'utf8').replace('disk = [\n', `disk = [\n  'file:${swap2},xvda3,w',\n`),
    );
    const { plan, outcome } = await buildResizePlan(paths, 'g1', {
      ...OPTIONS,
      swapSize: 40 * MiB,
      swapSizesOf: [{ name: 'swap2', size: 56 * MiB }],
    });
    await executePlan(plan);
    expect(outcome.targets.map((t) => [t.name, t.newSizeBytes])).toEqual([
      ['swap', 40 * MiB],
      ['swap2', 56 * MiB],
    ]);
    const probe = (file: string): string => run('blkid', ['-p', '-o', 'export', file]);
    expect(fs.statSync(swap2).size).toBe(56 * MiB);
    expect(probe(swap2)).toContain('UUID=66666666-7777-8888-9999-000000000000');
    expect(probe(swap2)).toContain('LABEL=swp2');
    // mkswap spread the swap over the whole new size: the header's last_page (at 1028) is the last 4K page.
    const header = Buffer.alloc(4);
    const handle = fs.openSync(swap2, 'r');
    fs.readSync(handle, header, 0, 4, 1028);
    fs.closeSync(handle);
    expect(header.readUInt32LE(0)).toBe((56 * MiB) / 4096 - 1);
    expect(fs.statSync(imageOf('g1', 'swap.img')).size).toBe(40 * MiB);
    expect(probe(imageOf('g1', 'swap.img'))).toContain('UUID=11111111-2222-3333-4444-555555555555');
    // The second run grows swap2 alone; growing it to its own size is refused and changes nothing.
    await expect(
      buildResizePlan(paths, 'g1', { ...OPTIONS, swapSizesOf: [{ name: 'swap2', size: 56 * MiB }] }),
    ).rejects.toMatchObject({ code: 'E_RESIZE_SHRINK', kind: 'usage' });
    await expect(
      buildResizePlan(paths, 'g1', { ...OPTIONS, swapSizesOf: [{ name: 'disk', size: 512 * MiB }] }),
    ).rejects.toMatchObject({
      code: 'E_RESIZE_SWAP',
      hint: expect.stringContaining('its swaps: swap, swap2'),
    });
    expect(fs.statSync(swap2).size).toBe(56 * MiB);
  });

  it.each(['xfs', 'btrfs'] as const)('grows %s on a temporary mount', async (fsType) => {
    paths = makeRoot();
    makeGuest('g1', fsType);
    const { plan, outcome } = await buildResizePlan(paths, 'g1', { ...OPTIONS, diskSize: 400 * MiB });
    await executePlan(plan);
    expect(outcome.targets[0]?.fs).toBe(fsType);
    const dir = fs.mkdtempSync(path.join(paths.root, 'mnt-'));
    run('mount', ['-o', 'loop,ro', imageOf('g1', 'disk.img'), dir]);
    try {
      const blocks = Number(run('df', ['--output=size', '-B1', dir]).split('\n')[1]);
      expect(blocks).toBeGreaterThan(320 * MiB);
      if (fsType === 'btrfs')
        expect(fs.readFileSync(path.join(dir, 'data/keep.txt'), 'utf8')).toBe('still here\n');
    } finally {
      run('umount', [dir]);
    }
  });

  it('grows a qcow2 image (qemu-img resize) and the ext4 in it', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    const disk = imageOf('g1', 'disk.img');
    run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', disk, `${disk}.q`]);
    fs.renameSync(`${disk}.q`, disk);
    const { plan } = await buildResizePlan(paths, 'g1', { ...OPTIONS, diskSize: 80 * MiB });
    await executePlan(plan);
    const info = JSON.parse(run('qemu-img', ['info', '--output=json', disk])) as { 'virtual-size': number };
    expect(info['virtual-size']).toBe(80 * MiB);
    run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', disk, `${disk}.raw`]);
    expect(fsBytes(`${disk}.raw`)).toBe(80 * MiB);
  });

  it('xen-resize-guest --add grows the disk by that much (a bare number is MiB), as xen-tools did', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    const disk = imageOf('g1', 'disk.img');
    const first = await runBin('xen-resize-guest', ['--hostname=g1', '--add=16Mb', `--root=${paths.root}`]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Grew disk ${disk} from 64M to 80M (ext4 grown to fill it)`);
    const second = await runBin('xen-resize-guest', [
      'g1',
      '--add=16',
      '--force',
      '--json',
      `--root=${paths.root}`,
    ]);
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, targets: [{ newSizeBytes: 96 * MiB }] });
    expect(fs.statSync(disk).size).toBe(96 * MiB);
    expect(fsBytes(disk)).toBe(96 * MiB);
    expect(run('debugfs', ['-R', 'cat /data/keep.txt', disk])).toBe('still here\n');
    // Bad input: nothing to add, or two places at once, is refused before anything is read.
    const bad = await runBin('xen-resize-guest', [
      'g1',
      '--dir=/srv',
      '--lvm=vg0',
      '--add=1G',
      `--root=${paths.root}`,
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^xen-resize-guest: error: options --dir and --lvm exclude each other\n/);
    expect(fs.statSync(disk).size).toBe(96 * MiB);
  });

  it('refuses to shrink, naming both sizes, and changes nothing', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    await expect(buildResizePlan(paths, 'g1', { ...OPTIONS, diskSize: 32 * MiB })).rejects.toMatchObject({
      code: 'E_RESIZE_SHRINK',
      kind: 'usage',
      message: expect.stringMatching(/new disk size 32M is not larger than the current 64M/),
    });
    expect(fs.statSync(imageOf('g1', 'disk.img')).size).toBe(64 * MiB);
  });

  it('shrinks the image back when growing the filesystem fails', async () => {
    paths = makeRoot();
    makeGuest('g1', 'ext4');
    const { plan } = await buildResizePlan(paths, 'g1', { ...OPTIONS, diskSize: 96 * MiB });
    // The superblock (at 1 KiB) goes between planning and running: the filesystem step fails.
    const disk = imageOf('g1', 'disk.img');
    const handle = fs.openSync(disk, 'r+');
    fs.writeSync(handle, Buffer.alloc(4096), 0, 4096, 0);
    fs.closeSync(handle);
    await expect(executePlan(plan)).rejects.toMatchObject({ code: 'E_RESIZE_FS' });
    expect(fs.statSync(disk).size).toBe(64 * MiB);
  });
});

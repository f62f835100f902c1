/** `xenkit resize-image` from the command line: dry run (text and JSON) and bad input. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/bin/xenkit.js';
import type { Paths } from '../../../src/paths.js';
import { captureIo } from '../../helpers/capture-io.js';
import { makeFakeGuest, makeRoot } from '../../helpers/fake-guests.js';
import { makeFakeLvm } from '../../helpers/fake-lvm.js';
import { removeDir, withPathFirst, writeFakeTool } from '../../helpers/storage-fixtures.js';

let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(argv, { ...c.io, stdin: process.stdin, isTTY: false });
  return { code, out: c.out(), err: c.err() };
}

function makeGuest(): string {
  paths = makeRoot();
  makeFakeGuest(paths, 'g1');
  const dir = path.join(paths.root, 'srv/domains/g1');
  execFileSync('mkfs.ext4', ['-q', '-F', path.join(dir, 'disk.img')], { stdio: 'ignore' });
  execFileSync('mkswap', [path.join(dir, 'swap.img')], { stdio: 'ignore' });
  return dir;
}

/** makeGuest plus the images a --partitions layout with two swaps and a /home adds: swap2.img, home.img. */
function makeLayoutGuest(): string {
  const dir = makeGuest();
  const swap2 = path.join(dir, 'swap2.img');
  const home = path.join(dir, 'home.img');
  fs.writeFileSync(swap2, '');
  fs.truncateSync(swap2, 16 << 20);
  execFileSync('mkswap', [swap2], { stdio: 'ignore' });
  fs.writeFileSync(home, '');
  fs.truncateSync(home, 16 << 20);
  execFileSync('mkfs.ext4', ['-q', '-F', home], { stdio: 'ignore' });
  const cfg = path.join(paths.xenDir, 'g1.cfg');
  const text = fs.readFileSync(cfg, 'utf8');
  fs.writeFileSync(
    cfg,
    text.replace('disk = [\n', `disk = [\n  'file:${home},xvda4,w',\n  'file:${swap2},xvda3,w',\n`),
  );
  return dir;
}

describe('xenkit resize-image', () => {
  it('prints the plan with --dry-run and changes nothing', async () => {
    const dir = makeGuest();
    const r = await run([
      'resize-image',
      'g1',
      '--size=1G',
      '--swap=32M',
      '--dry-run',
      `--root=${paths.root}`,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`resize2fs ${dir}/disk.img`);
    expect(r.out).toContain(`Would grow disk ${dir}/disk.img from 64M to 1G (ext4 grown to fill it)`);
    expect(r.out).toContain(`Would grow swap ${dir}/swap.img from 16M to 32M`);
    expect(fs.statSync(path.join(dir, 'disk.img')).size).toBe(64 << 20);
  });

  it('reports the dry run as JSON', async () => {
    makeGuest();
    const r = await run(['resize-image', 'g1', '--size=128M', '--dry-run', '--json', `--root=${paths.root}`]);
    expect(r.code, r.err).toBe(0);
    const body = JSON.parse(r.out) as { ok: boolean; targets: { role: string; newSizeBytes: number }[] };
    expect(body.ok).toBe(true);
    expect(body.targets).toMatchObject([{ role: 'disk', newSizeBytes: 128 << 20, fs: 'ext4' }]);
  });

  it('grows a further swap by its section name (--swap-of), besides the first (--swap)', async () => {
    const dir = makeLayoutGuest();
    const r = await run([
      'resize-image',
      'g1',
      '--swap=32M',
      '--swap-of=swap2=48M',
      '--dry-run',
      '--json',
      `--root=${paths.root}`,
    ]);
    expect(r.code, r.err).toBe(0);
    const body = JSON.parse(r.out) as { targets: unknown[]; plan: { steps: { id: string }[] } };
    expect(body.targets).toEqual(
      [
        {
          role: 'swap',
          name: 'swap',
          path: `${dir}/swap.img`,
          oldSizeBytes: 16 << 20,
          newSizeBytes: 32 << 20,
        },
        {
          role: 'swap',
          name: 'swap2',
          path: `${dir}/swap2.img`,
          oldSizeBytes: 16 << 20,
          newSizeBytes: 48 << 20,
        },
      ].map((t) => ({ ...t, fs: 'swap' })),
    );
    expect(body.plan.steps.map((s) => s.id)).toEqual(['resize.lock', 'resize.swap', 'resize.swap.swap2']);
    const text = await run([
      'resize-image',
      'g1',
      '--swap-of=swap2=48M',
      '--dry-run',
      `--root=${paths.root}`,
    ]);
    expect(text.out).toContain(`Would grow swap "swap2" ${dir}/swap2.img from 16M to 48M`);
    expect(text.out).toContain(`mkswap -U`);
    expect(fs.statSync(path.join(dir, 'swap2.img')).size).toBe(16 << 20);
  });

  it('with --dir finds the swaps by their signatures; --swap is the one named swap', async () => {
    const dir = makeLayoutGuest();
    const r = await run([
      'resize-image',
      'g1',
      '--swap=24M',
      '--swap-of=swap2=40M',
      '--dry-run',
      '--json',
      '--dir=/srv',
      `--root=${paths.root}`,
    ]);
    expect(r.code, r.err).toBe(0);
    const body = JSON.parse(r.out) as { targets: { path: string }[] };
    expect(body.targets.map((t) => t.path)).toEqual([`${dir}/swap.img`, `${dir}/swap2.img`]);
  });

  it('grows the first swap of a layout whose swap sections are not named swap', async () => {
    const dir = makeLayoutGuest();
    // The layout's swap sections: swap1 (xvda1) and swap2 (xvda3).
    fs.renameSync(path.join(dir, 'swap.img'), path.join(dir, 'swap1.img'));
    const cfg = path.join(paths.xenDir, 'g1.cfg');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('/swap.img', '/swap1.img'));
    const r = await run(['resize-image', 'g1', '--swap=32M', '--dry-run', `--root=${paths.root}`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`Would grow swap "swap1" ${dir}/swap1.img from 16M to 32M`);
    // Without the cfg's partition numbers, --swap is the one named swap, and there is none.
    const bare = await run([
      'resize-image',
      'g1',
      '--swap=32M',
      '--dir=/srv',
      '--dry-run',
      `--root=${paths.root}`,
    ]);
    expect(bare.code).toBe(1);
    expect(bare.err).toContain('guest "g1" has no swap to resize');
  });

  it.each([
    [['--swap-of=home=1G'], 'guest "g1" has no swap named "home"', 'its swaps: swap, swap2'],
    [['--swap-of=swap3=1G'], 'guest "g1" has no swap named "swap3"', 'its swaps: swap, swap2'],
    [['--swap-of=swap2'], '--swap-of "swap2" is not NAME=SIZE', 'e.g. --swap-of=swap2=1G'],
    [['--swap-of=swap2=1Q'], '--swap-of swap2 "1Q" has an unknown unit', 'write a number with a unit'],
    [['--swap-of=swap2=8M'], 'new size of swap "swap2" 8M is not larger than the current 16M', 'only grows'],
    [
      ['--swap=32M', '--swap-of=swap=64M'],
      'the swap "swap" is given two new sizes',
      '--swap is its first swap',
    ],
  ])('refuses %j with exit 2, a hint, and changes nothing', async (argv, message, hint) => {
    const dir = makeLayoutGuest();
    const r = await run(['resize-image', 'g1', ...argv, `--root=${paths.root}`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain(hint);
    expect(fs.statSync(path.join(dir, 'swap2.img')).size).toBe(16 << 20);
    expect(fs.statSync(path.join(dir, 'swap.img')).size).toBe(16 << 20);
  });

  it('on LVM names the swap volumes of the guest (HOST-NAME) when --swap-of names none', async () => {
    paths = makeRoot();
    const bin = makeFakeLvm(['vg0 g1-disk', 'vg0 g1-swap', 'vg0 g1-swap2', 'vg0 g1-home', 'vg0 g10-swap']);
    // blkid finds a swap signature on the volumes whose section starts with swap.
    writeFakeTool(
      bin,
      'blkid',
      'for a; do dev="$a"; done\ncase "$dev" in */g1-swap*) echo TYPE=swap;; */g1-*) echo TYPE=ext4;; *) exit 2;; esac',
    );
    try {
      const r = await withPathFirst(bin, () =>
        run(['resize-image', 'g1', '--lvm=vg0', '--swap-of=home=1G', `--root=${paths.root}`]),
      );
      expect(r.code).toBe(2);
      expect(r.err).toContain('guest "g1" has no swap named "home"');
      expect(r.err).toContain('its swaps: swap, swap2 (');
    } finally {
      removeDir(bin);
    }
  });

  it.each([
    [['g1'], 'nothing to resize'],
    [['g1', '--size=4X'], 'size "4X" has an unknown unit'],
    [['g1', '--size=1G', '--dir=/srv', '--lvm=vg0'], '--dir and --lvm exclude each other'],
    [['g1', '--size=32M'], 'new disk size 32M is not larger than the current 64M'],
  ])('refuses %j with exit 2', async (argv, message) => {
    makeGuest();
    const r = await run(['resize-image', ...argv, `--root=${paths.root}`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
  });
});

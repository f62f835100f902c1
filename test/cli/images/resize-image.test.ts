/** `xenkit resize-image` from the command line: dry run (text and JSON) and bad input. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/bin/xenkit.js';
import type { Paths } from '../../../src/paths.js';
import { captureIo } from '../../helpers/capture-io.js';
import { makeFakeGuest, makeRoot } from '../../helpers/fake-guests.js';

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

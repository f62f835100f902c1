/**
 * Bad input and a full disk against the real binaries: bad input ends with exit 2 and nothing
 * written; a full disk in any step ends with one line naming what did not fit and the step, exit
 * 1, no stack trace, and nothing of the guest left where it was to go. The guests are made with
 * --install=0 (real mkfs and mkswap, no bootstrap), so these tests need root but no mirror.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import { runBin, type CliResult } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;

/** Every path under `dir`. */
function tree(dir: string): string[] {
  return fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : [];
}

function expectOneLineError(result: CliResult, code: number, message: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr
    .trimEnd()
    .split('\n')
    .filter((l) => !l.startsWith('warning: '));
  expect(lines[0]).toMatch(message);
  expect(lines[1]).toMatch(/^ {2}hint: /);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toContain('internal error');
}

describe.skipIf(!isRoot)('xen-create-image with bad input or without room', () => {
  let scratch = '';
  let root = '';
  let small = '';
  const create = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runBin('xen-create-image', [`--root=${root}`, '--dhcp', '--quiet', '--install=0', ...args], {
      env,
      timeoutMs: 120_000,
    });
  const mountSmall = (size: string): void => {
    fs.mkdirSync(small, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', small]);
  };

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-input-'));
    root = path.join(scratch, 'root');
    small = path.join(root, 'small');
    fs.mkdirSync(root);
  });
  afterEach(() => {
    if (fs.existsSync(small) && execFileSync('findmnt', ['-n', small]).length > 0) {
      execFileSync('umount', [small]);
    }
  });
  afterAll(() => {
    execFileSync('findmnt', ['-rn', '-o', 'TARGET'], { encoding: 'utf8' })
      .split('\n')
      .filter((m) => m.startsWith(`${scratch}/`))
      .reverse()
      .forEach((m) => execFileSync('umount', ['-l', m]));
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it.each([
    [
      'a 239-character host name',
      [`--hostname=${Array(4).fill('a'.repeat(59)).join('.')}`, '--dir=/srv'],
      /longer than 200/,
    ],
    [
      'a newline in --dir',
      ['--hostname=web1', '--dir=/srv/x\n[2026-01-01] forged'],
      /^xen-create-image: error: --dir "\/srv\/x\\n\[2026-01-01\] forged" contains a control character/,
    ],
    [
      '--noswap with --swap',
      ['--hostname=web1', '--dir=/srv', '--noswap', '--swap=512M'],
      /--noswap and --swap "512M" both given/,
    ],
    [
      '--ide with --scsi',
      ['--hostname=web1', '--dir=/srv', '--ide', '--scsi'],
      /--ide and --scsi both given/,
    ],
    [
      '--randommac with --mac',
      ['--hostname=web1', '--dir=/srv', '--randommac', '--mac=00:16:3e:00:00:01'],
      /--mac "00:16:3e:00:00:01" and --randommac both given/,
    ],
    [
      '--install=0 with --passwd',
      ['--hostname=web1', '--dir=/srv', '--passwd'],
      /--passwd and --install "0" both given/,
    ],
  ])('refuses %s with exit 2 and writes nothing', async (_name, args, message) => {
    const before = tree(root);
    expectOneLineError(await create(args), 2, message);
    expect(tree(root)).toEqual(before);
  });

  it('makes an --install=0 guest: empty formatted images and a cfg, no password', async () => {
    const result = await create(['--hostname=empty1', '--dir=/srv', '--size=64M', '--swap=16M']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/--install "0": the filesystem stays empty/);
    expect(result.stdout).not.toMatch(/password/i);
    const dir = path.join(root, 'srv/domains/empty1');
    expect(fs.readdirSync(dir).sort()).toEqual(['disk.img', 'swap.img']);
    expect(
      execFileSync('blkid', ['-o', 'value', '-s', 'TYPE', path.join(dir, 'disk.img')], {
        encoding: 'utf8',
      }).trim(),
    ).toBe('ext4');
    expect(fs.existsSync(path.join(root, 'etc/xen/empty1.cfg'))).toBe(true);
  }, 120_000);

  it('writes a --dir holding a comma into the cfg as one disk with that path', async () => {
    const result = await create([
      '--hostname=comma1',
      '--dir=/srv/a,backendtype=tap',
      '--size=64M',
      '--swap=16M',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const dir = path.join(root, 'srv/a,backendtype=tap/domains/comma1');
    const cfg = parseXlCfg(fs.readFileSync(path.join(root, 'etc/xen/comma1.cfg'), 'utf8'));
    expect(cfg.disks.map((d) => d.target)).toEqual([`${dir}/disk.img`, `${dir}/swap.img`]);
    expect(cfg.disks.every((d) => /target=/.test(d.raw) && !/backendtype=tap,/.test(d.raw))).toBe(true);
  }, 120_000);

  it('refuses full images that do not fit before installing anything', async () => {
    mountSmall('32M');
    const before = tree(root).filter((p) => !p.startsWith('var/log'));
    const result = await create(['--hostname=full1', '--dir=/small', '--size=1G', '--image=full']);
    expectOneLineError(result, 1, /^xen-create-image: error: .*\/small: 1536M needed but only 32M free/);
    expect(tree(root).filter((p) => !p.startsWith('var/log'))).toEqual(before);
    const log = fs.readFileSync(path.join(root, 'var/log/xen-tools/full1.log'), 'utf8');
    expect(log).not.toMatch(/== Install|== Make/);
  }, 120_000);

  it('ends a create that fills the disk with one line and leaves nothing in --dir', async () => {
    mountSmall('512k');
    const result = await create(['--hostname=nospace1', '--dir=/small', '--size=1G', '--swap=16M']);
    expectOneLineError(
      result,
      1,
      /^xen-create-image: error: .*\/small\/domains\/nospace1\/disk\.img: no space left on the device .*during step "Make the ext4 disk /,
    );
    expect(result.stderr).toMatch(/hint: free some space/);
    expect(tree(small)).toEqual([]);
    expect(fs.existsSync(path.join(root, 'etc/xen/nospace1.cfg'))).toBe(false);
  }, 120_000);

  it('ends a clone that fills the disk while copying a sparse image with one line, and unwinds', async () => {
    const made = await create(['--hostname=src1', '--dir=/srv', '--size=64M', '--swap=16M']);
    expect(made.code, made.stderr).toBe(0);
    // Data the sparse copy cannot skip.
    execFileSync('dd', [
      'if=/dev/urandom',
      `of=${path.join(root, 'srv/domains/src1/disk.img')}`,
      'bs=1M',
      'count=16',
      'seek=8',
      'conv=notrunc',
      'status=none',
    ]);
    mountSmall('8M');
    const result = await runBin(
      'xenkit',
      ['clone', `--root=${root}`, '--dir=/small', '--quiet', 'src1', 'new1'],
      { timeoutMs: 120_000 },
    );
    expectOneLineError(
      result,
      1,
      /^xenkit: error: no space left on .*\/small\/domains\/new1\/disk\.img during step "Copy the images of src1/,
    );
    expect(tree(small)).toEqual([]);
    expect(fs.existsSync(path.join(root, 'etc/xen/new1.cfg'))).toBe(false);
  }, 120_000);
});

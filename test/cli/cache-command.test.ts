import { mkdir, mkdtemp, open, readdir, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addCacheCommands, humanAge, parseAge } from '../../src/cli/cache-command.js';
import { checksumImage } from '../../src/install/rootfs-cache-image.js';
import { ROOTFS_CACHE_FORMAT } from '../../src/install/rootfs-cache-key.js';
import {
  IMAGE_FILE,
  LAST_USED_FILE,
  MANIFEST_FILE,
  makeBuildDir,
  publishEntry,
} from '../../src/install/rootfs-cache-store.js';

const NOW = new Date('2026-11-26T12:00:00Z');
const DAY = 86400 * 1000;

/** Publishes a small entry `key` created `ageDays` ago and last used `usedDays` ago. */
async function publishSample(
  root: string,
  key: string,
  suite: string,
  ageDays: number,
  usedDays: number,
): Promise<string> {
  const build = await makeBuildDir(root, key);
  const image = path.join(build, IMAGE_FILE);
  const handle = await open(image, 'w');
  await handle.truncate(2 * 1024 * 1024);
  await handle.write(Buffer.from(`${key} data`), 0, 37, 4096);
  await handle.close();
  const sums = await checksumImage(image);
  const dir = await publishEntry(root, build, {
    format: ROOTFS_CACHE_FORMAT,
    key,
    fields: {
      format: ROOTFS_CACHE_FORMAT,
      installer: 'mmdebstrap',
      installerVersion: 'mmdebstrap 1.3.5',
      suite,
      architecture: 'amd64',
      variant: 'apt',
      mirrors: ['http://deb.debian.org/debian'],
      components: ['main'],
      packages: ['openssh-server'],
      keyringSha256: null,
      initramfsConfigSha256: null,
    },
    createdAt: new Date(NOW.getTime() - ageDays * DAY).toISOString(),
    buildMs: 60000,
    image: { file: IMAGE_FILE, fs: 'ext4', ...sums, chunkBytes: 1024 * 1024 },
    tree: { packagesInstalled: 146, treeBytes: 600_000_000, sanitized: [] },
  });
  const used = new Date(NOW.getTime() - usedDays * DAY);
  const stamp = path.join(dir, LAST_USED_FILE);
  await (await open(stamp, 'w')).close();
  await utimes(stamp, used, used);
  return dir;
}

describe('xenkit cache', () => {
  let base: string;
  let root: string;
  const A = 'a'.repeat(32);
  const B = 'b'.repeat(32);

  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'xenkit-cachecmd-'));
    root = path.join(base, 'var/cache/xenkit/rootfs');
    await publishSample(root, A, 'bookworm', 40, 35);
    await publishSample(root, B, 'trixie', 3, 1);
    process.exitCode = undefined;
  });
  afterEach(async () => {
    process.exitCode = undefined;
    await rm(base, { recursive: true, force: true });
  });

  async function run(...args: string[]): Promise<{ out: string; code: number }> {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const program = new Command('xenkit').exitOverride();
    addCacheCommands(program, { io: { stdout, stderr: new PassThrough() }, env: {}, now: () => NOW });
    await program.parseAsync(['cache', ...args, '--root', base], { from: 'user' });
    const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
    process.exitCode = undefined;
    return { out, code };
  }

  it('lists entries with key fields, size, age and last use', async () => {
    const { out } = await run('list');
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(
      /^KEY\s+RELEASE\s+ARCH\s+VARIANT\s+INSTALLER\s+PKGS\s+SIZE\s+AGE\s+LAST USED\s+STATUS$/,
    );
    expect(lines[1]).toMatch(
      /^aaaaaaaaaaaa\s+bookworm\s+amd64\s+apt\s+mmdebstrap 1\.3\.5\s+146\s+\S+\s+40d\s+35d ago\s+ok$/,
    );
    expect(lines[2]).toMatch(/^bbbbbbbbbbbb\s+trixie .*\s+3d\s+1d ago\s+ok$/);
  });

  it('lists as JSON, unusable entries included with the reason', async () => {
    await rm(path.join(root, B, MANIFEST_FILE));
    const parsed = JSON.parse((await run('list', '--json')).out) as {
      entries: { key: string; ok: boolean; problem?: string; release?: string }[];
    };
    expect(parsed.entries).toEqual([
      expect.objectContaining({ key: A, ok: true, release: 'bookworm' }),
      expect.objectContaining({ key: B, ok: false, problem: expect.stringMatching(/no manifest/) }),
    ]);
  });

  it('verifies every entry and reports a corrupted one with exit status 1', async () => {
    expect(await run('verify')).toEqual({ out: expect.stringMatching(/2 entries checked, 0 bad/), code: 0 });
    const handle = await open(path.join(root, B, IMAGE_FILE), 'r+');
    await handle.write(Buffer.from('!'), 0, 1, 4100);
    await handle.close();
    const { out, code } = await run('verify', '--json');
    const parsed = JSON.parse(out) as {
      ok: boolean;
      results: { key: string; ok: boolean; problem?: string }[];
    };
    expect(code).toBe(1);
    expect(parsed.ok).toBe(false);
    expect(parsed.results.find((r) => r.key === B)).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/sha256/),
    });
    expect(parsed.results.find((r) => r.key === A)).toMatchObject({ ok: true });
  });

  it('prunes entries unused for longer than --older-than, keeping the others', async () => {
    const { out } = await run('prune', '--older-than', '30d');
    expect(out).toMatch(new RegExp(`removed ${A} \\(not used for 35d\\)`));
    expect(await readdir(root)).toEqual([B]);
  });

  it('prunes unusable entries and dead builds always, but not a build that is still running', async () => {
    await rm(path.join(root, A, IMAGE_FILE));
    await mkdir(path.join(root, `.build-${A}-999999-abcdef`));
    await mkdir(path.join(root, `.build-${B}-${process.pid}-abcdef`));
    const parsed = JSON.parse((await run('prune', '--json')).out) as {
      removed: { key: string; reason: string }[];
      kept: number;
    };
    expect(parsed.removed.map((r) => r.reason)).toEqual([
      expect.stringMatching(/unusable/),
      'left over by an interrupted build',
    ]);
    expect(parsed.kept).toBe(1);
    expect((await readdir(root)).sort()).toEqual([`.build-${B}-${process.pid}-abcdef`, B]);
  });

  it('prunes everything with --all', async () => {
    expect((await run('prune', '--all')).out).toMatch(/2 removed, 0 kept/);
    expect(await readdir(root)).toEqual([]);
  });

  it.each([
    ['30d', 30 * 86400],
    ['12h', 12 * 3600],
    ['2w', 14 * 86400],
    ['90m', 5400],
  ])('reads the age %s', (text, seconds) => {
    expect(parseAge(text)).toBe(seconds);
  });

  it.each(['30', 'd30', '1y', ''])('rejects the age "%s", naming it', (text) => {
    expect(() => parseAge(text)).toThrow(`age "${text}" is not a duration`);
  });

  it.each([
    [59, '59s'],
    [3600, '1h'],
    [86400 * 3 + 5, '3d'],
  ])('shows %i seconds as %s', (seconds, text) => {
    expect(humanAge(seconds)).toBe(text);
  });
});

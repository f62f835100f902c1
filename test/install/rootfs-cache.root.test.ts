/**
 * The root-tree cache against the real tools: one real mmdebstrap (the first guest builds the
 * entry), then guests made from the cache: ext4 (image mode: copied image, resize2fs, tune2fs,
 * customized on a loop mount) and ext3 (tree mode: the tree copied out, then mkfs -d). Needs root and the Debian mirror.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCache, viewEntry, type CacheEntryView } from '../../src/cli/cache-command.js';
import { listEntries, rootfsCacheRoot } from '../../src/install/rootfs-cache-store.js';
import { runBin } from '../helpers/cli.js';
import { seedSharedRootfsCache } from '../helpers/shared-xenkit-cache.js';
import { imageFsType, imageUuid, withMountedImage } from '../helpers/image-files.js';

const isRoot = process.getuid?.() === 0;

interface Summary {
  sshHostKeys: { type: string; fingerprint: string }[];
}

describe.skipIf(!isRoot)('guests made from the root-tree cache', () => {
  let scratch: string;
  let root: string;
  const seconds: Record<string, number> = {};
  const summaries: Record<string, Summary> = {};
  const disk = (name: string): string => path.join(root, 'srv', 'domains', name, 'disk.img');
  const readIn = (name: string, file: string): string =>
    withMountedImage(disk(name), (mnt) => fs.readFileSync(path.join(mnt, file), 'utf8'));

  async function create(name: string, extra: string[] = []): Promise<void> {
    const started = Date.now();
    const result = await runBin(
      'xen-create-image',
      [
        `--hostname=${name}`,
        `--root=${root}`,
        '--dir=/srv',
        '--size=2G',
        '--swap=256M',
        '--dhcp',
        '--password-file=/pw',
        '--json',
        ...extra,
      ],
      { timeoutMs: 900_000 },
    );
    seconds[name] = (Date.now() - started) / 1000;
    if (result.code !== 0)
      throw new Error(`create ${name} failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
    summaries[name] = JSON.parse(result.stdout) as Summary;
  }

  // What `xenkit cache list` and `verify` report (the umbrella wiring is not this test's subject).
  const cacheRoot = (): string => rootfsCacheRoot(path.join(root, 'var/cache/xenkit'));
  const listCache = async (): Promise<CacheEntryView[]> =>
    (await listEntries(cacheRoot())).map((e) => viewEntry(e, new Date()));

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-rootfs-cache-'));
    root = path.join(scratch, 'root');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'pw'), 'Cache-Test-Password-9\n');
    await create('cold1');
    // The other files that build this guest start from this entry (it runs first: vitest.config.ts).
    console.log(`seeded the run's shared cache with: ${seedSharedRootfsCache(root).join(', ') || 'nothing'}`);
    await create('warm2');
  });
  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('makes the second guest in less than a fifth of the first one’s time', () => {
    expect(seconds.warm2).toBeLessThan((seconds.cold1 ?? 0) / 5);
  });

  it('gives the cached guest its own hostname, filesystem UUID and label, matching its fstab', () => {
    const uuid = imageUuid(disk('warm2'));
    expect(readIn('warm2', 'etc/hostname').trim()).toBe('warm2');
    expect(readIn('warm2', 'etc/fstab')).toContain(`UUID=${uuid}\t/\text4`);
    expect(uuid).not.toBe(imageUuid(disk('cold1')));
    expect(
      execFileSync('blkid', ['-p', '-o', 'value', '-s', 'LABEL', disk('warm2')], { encoding: 'utf8' }).trim(),
    ).toBe('warm2');
    expect(readIn('warm2', 'etc/machine-id')).toBe('');
  });

  it('gives the cached guest fresh SSH host keys, different from the first guest’s', () => {
    const fingerprints = (name: string): string[] =>
      (summaries[name]?.sshHostKeys ?? []).map((k) => k.fingerprint);
    expect(fingerprints('warm2')).toHaveLength(3);
    expect(fingerprints('warm2').filter((f) => fingerprints('cold1').includes(f))).toEqual([]);
    const key = 'etc/ssh/ssh_host_ed25519_key';
    expect(readIn('warm2', key)).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    expect(readIn('warm2', key)).not.toBe(readIn('cold1', key));
  });

  it('grows the cached filesystem to the full 2G disk and leaves it clean for e2fsck', () => {
    const dump = execFileSync('dumpe2fs', ['-h', disk('warm2')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const blocks = Number(/^Block count:\s+(\d+)/m.exec(dump)?.[1]);
    const blockSize = Number(/^Block size:\s+(\d+)/m.exec(dump)?.[1]);
    expect(blocks * blockSize).toBe(2 * 1024 ** 3);
    execFileSync('e2fsck', ['-fn', disk('warm2')], { stdio: 'ignore' });
    expect(fs.statSync(disk('warm2')).blocks * 512).toBeLessThan(1.5 * 1024 ** 3);
  });

  it('lists one good entry and verifies its checksums', async () => {
    const listed = await listCache();
    expect(listed).toEqual([expect.objectContaining({ ok: true, release: 'bookworm' })]);
    expect(listed[0]?.packages).toBeGreaterThan(100);
    expect(await verifyCache(cacheRoot())).toEqual([expect.objectContaining({ ok: true })]);
  });

  it('makes an ext3 guest from the same entry by copying the tree out of it (tree mode), without bootstrapping', async () => {
    // ext2/3/4 guests get the same packages (e2fsprogs), hence the same entry; xfs and btrfs
    // guests get xfsprogs or btrfs-progs, a different key, and go through this same tree mode.
    await create('ext3g', ['--fs=ext3']);
    expect(imageFsType(disk('ext3g'))).toBe('ext3');
    expect(readIn('ext3g', 'etc/hostname').trim()).toBe('ext3g');
    expect(readIn('ext3g', 'etc/fstab')).toContain(`UUID=${imageUuid(disk('ext3g'))}\t/\text3`);
    expect(fs.existsSync(path.join(root, 'srv/domains/ext3g'))).toBe(true);
    expect(seconds.ext3g).toBeLessThan((seconds.cold1 ?? 0) / 2);
    const log = fs.readFileSync(path.join(root, 'var/log/xen-tools/ext3g.log'), 'utf8');
    expect(log).toMatch(/root-tree cache: entry \w+ found \(tree mode/);
    expect(await listCache()).toHaveLength(1);
  });
});

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  chooseRootfsCacheMode,
  keyOfRequest,
  obtainRootfsEntry,
  type RootfsCacheTarget,
} from '../../src/install/rootfs-cache.js';
import { checksumImage } from '../../src/install/rootfs-cache-image.js';
import { isEntry, MANIFEST_FILE, readEntry } from '../../src/install/rootfs-cache-store.js';
import type { GuestSpec } from '../../src/model/guest-spec.js';
import { installFakeTools } from './fake-tools.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';
import { makeContext } from './fixtures.js';

/**
 * A fake mmdebstrap that counts its runs and takes a second, in front of the shared fake (which
 * builds a tiny tree): enough for the cache to bootstrap, make a real ext4 image and publish it.
 */
async function installCountingFake(dir: string): Promise<void> {
  const inner = path.join(dir, 'inner');
  await installFakeTools(inner);
  const outer = path.join(dir, 'outer');
  await installFakeTools(outer);
  await writeFile(
    path.join(outer, 'mmdebstrap'),
    `#!/bin/sh\necho run >> "${dir}/runs"\nsleep 1\nexec "${inner}/mmdebstrap" "$@"\n`,
  );
  await chmod(path.join(outer, 'mmdebstrap'), 0o755);
}

describe('obtainRootfsEntry with a fake bootstrap', () => {
  let dir: string;
  let target: RootfsCacheTarget;
  const savedPath = process.env.PATH;
  const request = {
    install: makeInstallSpec({ extraPackages: ['openssh-server'] }),
    target: '/unused',
    packages: [],
  };

  beforeAll(() => {
    process.env.PATH = `${'/nonexistent'}:${savedPath ?? ''}`;
  });
  afterAll(() => {
    process.env.PATH = savedPath;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'xenkit-rootfs-'));
    await installCountingFake(dir);
    process.env.PATH = `${path.join(dir, 'outer')}:${savedPath ?? ''}`;
    target = {
      mode: 'image',
      reason: 'test',
      refresh: false,
      root: path.join(dir, 'cache', 'rootfs'),
      lockDir: path.join(dir, 'lock'),
      readVersion: async (program) => `${program} 0.0-test`,
    };
  });

  const runs = async (): Promise<number> =>
    (await readFile(path.join(dir, 'runs'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

  it('bootstraps once for two concurrent callers of the same key; the second waits and uses the entry', async () => {
    const keyed = await keyOfRequest(request, target, makeContext());
    if (!keyed) throw new Error('not cacheable');
    const first = makeContext();
    const second = makeContext();
    const [a, b] = await Promise.all([
      obtainRootfsEntry(request, target, keyed, first),
      obtainRootfsEntry(request, target, keyed, second),
    ]);
    expect(await runs()).toBe(1);
    expect(a.manifest.createdAt).toBe(b.manifest.createdAt);
    expect(a.manifest.image.sha256).toBe((await checksumImage(a.imagePath)).sha256);
    expect([...first.progress, ...second.progress].some((p) => /waiting for xenkit/.test(p))).toBe(true);
    expect(a.manifest.tree.packagesInstalled).toBe(2);
    expect(a.manifest.tree.sanitized).toContain('/etc/ssh/ssh_host_ed25519_key');
  });

  it('uses a good entry without bootstrapping, and rebuilds one whose manifest is gone', async () => {
    const keyed = await keyOfRequest(request, target, makeContext());
    if (!keyed) throw new Error('not cacheable');
    const built = await obtainRootfsEntry(request, target, keyed, makeContext());
    await obtainRootfsEntry(request, target, keyed, makeContext());
    expect(await runs()).toBe(1);
    await rm(path.join(built.dir, MANIFEST_FILE));
    const ctx = makeContext();
    const rebuilt = await obtainRootfsEntry(request, target, keyed, ctx);
    expect(await runs()).toBe(2);
    expect(isEntry(await readEntry(target.root, keyed.key))).toBe(true);
    expect(rebuilt.manifest.createdAt).not.toBe(built.manifest.createdAt);
  });

  it('rebuilds a good entry with --refresh-cache', async () => {
    const keyed = await keyOfRequest(request, target, makeContext());
    if (!keyed) throw new Error('not cacheable');
    await obtainRootfsEntry(request, target, keyed, makeContext());
    await obtainRootfsEntry(request, { ...target, refresh: true }, keyed, makeContext());
    expect(await runs()).toBe(2);
  });

  it('removes the half-built entry when the bootstrap fails, and publishes nothing', async () => {
    await writeFile(path.join(dir, 'inner', 'mode'), 'fail');
    const keyed = await keyOfRequest(request, target, makeContext());
    if (!keyed) throw new Error('not cacheable');
    const ctx = makeContext();
    await expect(obtainRootfsEntry(request, target, keyed, ctx)).rejects.toThrow();
    await ctx.undo.unwind(ctx.sink);
    const found = await readEntry(target.root, keyed.key);
    expect(isEntry(found)).toBe(false);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(target.root)).toEqual([]);
  });
});

describe('chooseRootfsCacheMode', () => {
  const spec = (over: {
    fs?: string;
    format?: string;
    kind?: string;
    cache?: string;
    method?: string;
    type?: string;
  }): GuestSpec =>
    ({
      install: {
        ...makeInstallSpec({ method: (over.method ?? 'mmdebstrap') as 'mmdebstrap' }),
        rootfsCache: over.cache ?? 'use',
      },
      storage:
        over.kind === 'device'
          ? { kind: 'device', imageDev: '/dev/vdb', swapDev: undefined }
          : {
              kind: 'file',
              dir: '/srv',
              guestDir: '/srv/domains/a',
              allocation: 'sparse',
              format: over.format ?? 'raw',
            },
      disk: {
        size: 2 ** 31,
        fs: over.fs ?? 'ext4',
        mountOptions: '',
        mkfsCommand: undefined,
        format: true,
        device: 'xvda2',
      },
      boot: { type: over.type ?? 'pv' },
    }) as unknown as GuestSpec;

  it.each<[string, Parameters<typeof spec>[0], string | undefined]>([
    ['an ext4 raw image file', {}, 'image'],
    ['xfs', { fs: 'xfs' }, 'tree'],
    ['btrfs', { fs: 'btrfs' }, 'tree'],
    ['ext3', { fs: 'ext3' }, 'tree'],
    ['qcow2', { format: 'qcow2' }, 'tree'],
    ['an HVM whole disk', { type: 'hvm' }, 'tree'],
    ['a block device', { kind: 'device' }, 'tree'],
    ['--no-cache', { cache: 'off' }, undefined],
    ['a copy install', { method: 'copy' }, undefined],
  ])('uses %s', (_what, over, mode) => {
    expect(chooseRootfsCacheMode(spec(over))?.mode).toBe(mode);
  });
});

/**
 * Real debootstrap installs (minbase + openssh-server) of bookworm with `--cache`: cold, warm
 * (packages come from our cache dir, not the network), and cancelled while dpkg runs in the chroot
 * with /proc mounted (nothing may survive the cancellation).
 */
import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import { packageCacheDir } from '../../src/install/bootstrap-sources.js';
import type { InstallRequest, InstallResult } from '../../src/install/install-request.js';
import { installRootTree } from '../../src/install/install-root-tree.js';
import { listMountsUnder, listProcessesInTree } from '../../src/install/target-guard.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';
import { makeContext, type RecordingContext } from './fixtures.js';

let scratch: string;
let cold: { result: InstallResult; ctx: RecordingContext; target: string };

/** Packages debootstrap fetched from the mirror (it says `Validating`, not `Retrieving`, for cached ones). */
const downloads = (ctx: RecordingContext): number =>
  ctx.progress.filter((p) => p.startsWith('downloading ')).length;

function request(target: string): InstallRequest {
  return {
    install: makeInstallSpec({ method: 'debootstrap', cache: true, cacheDir: path.join(scratch, 'cache') }),
    target,
    packages: ['openssh-server'],
    withBasePackages: false,
  };
}

async function newTarget(name: string): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir);
  return dir;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'xenkit-debootstrap-'));
  const target = await newTarget('cold');
  const ctx = makeContext();
  const result = await installRootTree(request(target), ctx);
  console.info(
    `debootstrap cold: ${result.durationMs} ms, ${result.packagesInstalled} packages, ${downloads(ctx)} downloaded`,
  );
  cold = { result, ctx, target };
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('debootstrap minbase install of bookworm with --cache', () => {
  it('installs the included ssh server without starting it', async () => {
    expect(cold.result.method).toBe('debootstrap');
    expect((await lstat(path.join(cold.target, 'usr/sbin/sshd'))).isFile()).toBe(true);
    expect(await listProcessesInTree(cold.target)).toEqual([]);
    expect(cold.ctx.warnings).toEqual([]);
  });

  it('leaves no mounts, no policy-rc.d, no host keys and no .debs in the tree', async () => {
    expect(await listMountsUnder(cold.target)).toEqual([]);
    await expect(lstat(path.join(cold.target, 'usr/sbin/policy-rc.d'))).rejects.toThrow();
    expect(
      (await readdir(path.join(cold.target, 'etc/ssh'))).filter((n) => n.startsWith('ssh_host_')),
    ).toEqual([]);
    expect(
      (await readdir(path.join(cold.target, 'var/cache/apt/archives'))).filter((n) => n.endsWith('.deb')),
    ).toEqual([]);
  });

  it('keeps the packages in its own cache dir', async () => {
    const cached = (await readdir(packageCacheDir(request(cold.target).install))).filter((n) =>
      n.endsWith('.deb'),
    );
    expect(cached.length).toBeGreaterThanOrEqual(cold.result.packagesInstalled - 5);
    expect(downloads(cold.ctx)).toBeGreaterThan(50);
  });

  it('installs again from the cache without fetching the packages', async () => {
    const target = await newTarget('warm');
    const ctx = makeContext();
    const warm = await installRootTree(request(target), ctx);
    console.info(
      `debootstrap warm: ${warm.durationMs} ms, ${warm.packagesInstalled} packages, ${downloads(ctx)} downloaded`,
    );
    expect(warm.packagesInstalled).toBe(cold.result.packagesInstalled);
    expect(downloads(ctx)).toBeLessThan(downloads(cold.ctx) / 10);
    await rm(target, { recursive: true, force: true });
  });

  it('leaves no process and no mount behind when cancelled while dpkg configures in the chroot', async () => {
    const target = await newTarget('cancelled');
    const controller = new AbortController();
    const ctx = makeContext(controller.signal);
    let sawMount = false;
    const originalProgress = ctx.reporter.progress;
    ctx.reporter.progress = (id, text) => {
      originalProgress(id, text);
      if (!controller.signal.aborted && /^configuring \d+ /.test(text)) {
        void listMountsUnder(target).then((mounts) => {
          sawMount = mounts.length > 0;
          controller.abort(new Error('SIGTERM'));
        });
      }
    };
    const error = await installRootTree(request(target), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect((error as XenkitError).code).toBe('E_CANCELLED');
    expect(sawMount).toBe(true);
    expect(await listProcessesInTree(target)).toEqual([]);
    expect(await listMountsUnder(target)).toEqual([]);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    await rm(target, { recursive: true, force: true });
  });
});

/**
 * Real mmdebstrap installs of bookworm with the guest package set (kernel, openssh-server, ...)
 * from deb.debian.org, with the package cache cold then warm; the first tree is then copied and
 * archived to check the copy and tar methods on a real Debian tree.
 */
import { lstat, mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageCacheDir } from '../../src/install/bootstrap-sources.js';
import type { InstallRequest, InstallResult } from '../../src/install/install-request.js';
import { installRootTree } from '../../src/install/install-root-tree.js';
import { runCommand } from '../../src/tools/exec.js';
import { listMountsUnder, listProcessesInTree } from '../../src/install/target-guard.js';
import { createTar } from '../../src/tools/tar.js';
import { compareSnapshots, snapshotTree, type TreeSnapshot } from '../helpers/tree-compare.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';
import { makeContext, type RecordingContext } from './fixtures.js';

let scratch: string;
let cold: { result: InstallResult; ctx: RecordingContext; target: string };
let coldSnapshot: Promise<TreeSnapshot> | undefined;

/** Every difference between the cold tree (read once: no test changes it) and `target`. */
async function diffFromCold(target: string): Promise<string[]> {
  coldSnapshot ??= snapshotTree(cold.target);
  return compareSnapshots(await coldSnapshot, await snapshotTree(target));
}

/** Package downloads (apt's `Get:` lines after it announced how many packages it installs). */
const packageDownloads = (ctx: RecordingContext): number =>
  ctx.progress.filter((p) => /^downloading \d+\/\d+$/.test(p)).length;

function request(target: string): InstallRequest {
  return {
    install: makeInstallSpec({ method: 'mmdebstrap', cache: true, cacheDir: path.join(scratch, 'cache') }),
    target,
    packages: [],
  };
}

async function debsIn(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d)) {
      const full = path.join(d, name);
      const st = await lstat(full);
      if (st.isDirectory()) await walk(full);
      else if (name.endsWith('.deb')) found.push(full);
    }
  };
  await walk(dir);
  return found;
}

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'xenkit-mmdebstrap-'));
  const target = path.join(scratch, 'cold');
  await mkdir(target);
  const ctx = makeContext();
  const result = await installRootTree(request(target), ctx);
  console.info(
    `mmdebstrap cold: ${result.durationMs} ms, ${result.packagesInstalled} packages, ${packageDownloads(ctx)} downloaded`,
  );
  cold = { result, ctx, target };
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('mmdebstrap install of bookworm', () => {
  it('installs a bootable system: kernel, initrd, systemd and the ssh server', async () => {
    expect(cold.result.method).toBe('mmdebstrap');
    expect(cold.result.kernel).toMatch(/^\/boot\/vmlinuz-\d/);
    expect(cold.result.initrd).toBe(cold.result.kernel?.replace('vmlinuz', 'initrd.img'));
    for (const file of [
      cold.result.kernel ?? '',
      cold.result.initrd ?? '',
      '/usr/sbin/sshd',
      '/sbin/init',
      '/usr/bin/apt',
    ]) {
      expect((await lstat(path.join(cold.target, file))).size, file).toBeGreaterThan(0);
    }
    expect(cold.result.packagesInstalled).toBeGreaterThan(100);
    // About 295 MiB with the cloud kernel (its modules 100 MB; the generic kernel's were 390).
    expect(cold.result.treeBytes).toBeGreaterThan(200 * 1024 * 1024);
    expect(cold.result.kernel).toMatch(/-cloud-amd64$/);
  });

  it('built the guest initramfs from its module list (MODULES=list), not from most of the kernel', async () => {
    const conf = await readFile(path.join(cold.target, 'etc/initramfs-tools/conf.d/xenkit-guest'), 'utf8');
    expect(conf).toMatch(/^MODULES=list$/m);
    // MODULES=most made a 36 MB initrd for this kernel; the list about 9 MB.
    expect((await lstat(path.join(cold.target, cold.result.initrd ?? ''))).size).toBeLessThan(
      20 * 1024 * 1024,
    );
    // Logged line by line as it ran; zstd is in the guest, so no fallback to gzip.
    const lines = cold.ctx.events.flatMap((e) => (e.type === 'output' ? [e.line] : []));
    // Built once, in the customize stage, not by the kernel postinst and again by the trigger.
    expect(lines.filter((l) => l.startsWith('update-initramfs: Generating'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('No zstd'))).toBe(false);
    // The coldplug hook came in with the conf.d file and ran: the initrd's udev script asks only
    // for the devices that lead to a root disk.
    const unpacked = path.join(scratch, 'initrd-unpacked');
    await runCommand(['unmkinitramfs', path.join(cold.target, cold.result.initrd ?? ''), unpacked]);
    const udev = await readFile(path.join(unpacked, 'scripts/init-top/udev'), 'utf8');
    expect(udev).toMatch(
      /^udevadm trigger --type=devices --action=add --subsystem-match=pci .*--subsystem-match=xen /m,
    );
    expect(udev).not.toContain('--type=subsystems');
    // The package's update-initramfs is back, with no diversion left behind.
    const tool = await readFile(path.join(cold.target, 'usr/sbin/update-initramfs'), 'utf8');
    expect(tool).toContain('initramfs-tools');
    await expect(lstat(path.join(cold.target, 'usr/sbin/update-initramfs.xenkit'))).rejects.toThrow();
    const diversions = await readFile(path.join(cold.target, 'var/lib/dpkg/diversions'), 'utf8').catch(
      () => '',
    );
    expect(diversions).not.toContain('update-initramfs');
  });

  it('built the CA store once, at the end, with every certificate and no diversion left', async () => {
    const lines = cold.ctx.events.flatMap((e) => (e.type === 'output' ? [e.line] : []));
    // The postinst and the trigger ran the diverted no-op; the one real run added every certificate.
    expect(lines.filter((l) => l.startsWith('Updating certificates in /etc/ssl/certs'))).toHaveLength(1);
    const added = lines.map((l) => /^(\d+) added, 0 removed; done\.$/.exec(l)).find(Boolean);
    expect(Number(added?.[1])).toBeGreaterThan(100);
    const bundle = await readFile(path.join(cold.target, 'etc/ssl/certs/ca-certificates.crt'), 'utf8');
    expect(bundle.match(/-----BEGIN CERTIFICATE-----/g)?.length).toBe(Number(added?.[1]));
    // openssl rehash made the hash links that TLS clients look certificates up by.
    const links = (await readdir(path.join(cold.target, 'etc/ssl/certs'))).filter((n) =>
      /^[0-9a-f]{8}\.\d$/.test(n),
    );
    expect(links.length).toBeGreaterThan(100);
    const tool = await readFile(path.join(cold.target, 'usr/sbin/update-ca-certificates'), 'utf8');
    expect(tool).toContain('ca-certificates');
    const diversions = await readFile(path.join(cold.target, 'var/lib/dpkg/diversions'), 'utf8').catch(
      () => '',
    );
    expect(diversions).not.toContain('update-ca-certificates');
  });

  it('made /usr merged by symlinks as debootstrap does: no usrmerge, no perl', async () => {
    for (const dir of ['bin', 'sbin', 'lib']) {
      expect((await lstat(path.join(cold.target, dir))).isSymbolicLink(), dir).toBe(true);
    }
    const status = await readFile(path.join(cold.target, 'var/lib/dpkg/status'), 'utf8');
    const installed = new Set(
      status
        .split('\n\n')
        .filter((stanza) => /^Status: install ok installed$/m.test(stanza))
        .map((stanza) => /^Package: (\S+)$/m.exec(stanza)?.[1]),
    );
    expect(installed.has('usr-is-merged')).toBe(true);
    expect(installed.has('usrmerge')).toBe(false);
    expect(installed.has('perl')).toBe(false);
    expect(installed.has('perl-base')).toBe(true);
  });

  it('leaves no SSH host keys, no machine-id, no .debs and no package lists in the tree', async () => {
    expect(
      (await readdir(path.join(cold.target, 'etc/ssh'))).filter((n) => n.startsWith('ssh_host_')),
    ).toEqual([]);
    expect(await readFile(path.join(cold.target, 'etc/machine-id'), 'utf8')).toBe('');
    expect(await debsIn(cold.target)).toEqual([]);
    expect((await readdir(path.join(cold.target, 'var/lib/apt/lists'))).sort()).toEqual(['lock', 'partial']);
  });

  it('takes eatmydata (used while dpkg ran) out of the tree again', async () => {
    for (const file of ['usr/bin/dpkg.distrib', 'usr/bin/eatmydata']) {
      await expect(lstat(path.join(cold.target, file)), file).rejects.toThrow();
    }
    expect((await lstat(path.join(cold.target, 'usr/bin/dpkg'))).size).toBeGreaterThan(100_000);
    const diversions = await readFile(path.join(cold.target, 'var/lib/dpkg/diversions'), 'utf8').catch(
      () => '',
    );
    expect(diversions).not.toContain('/usr/bin/dpkg');
  });

  it('leaves no process running and nothing mounted inside the tree', async () => {
    expect(await listProcessesInTree(cold.target)).toEqual([]);
    expect(await listMountsUnder(cold.target)).toEqual([]);
    expect(cold.ctx.warnings).toEqual([]);
    // mmdebstrap moved its no-op policy-rc.d and start-stop-daemon out again.
    await expect(lstat(path.join(cold.target, 'usr/sbin/policy-rc.d'))).rejects.toThrow();
  });

  it('reported progress while it ran', () => {
    expect(cold.ctx.progress).toEqual(
      expect.arrayContaining(['installing remaining packages inside the chroot']),
    );
    expect(cold.ctx.progress.some((p) => /^configuring \d+\/\d+ openssh-server$/.test(p))).toBe(true);
  });

  it('kept every downloaded package in its own cache, outside the tree', async () => {
    const cached = await debsIn(packageCacheDir(request(cold.target).install));
    expect(cached.length).toBeGreaterThanOrEqual(cold.result.packagesInstalled - 5);
  });

  it('installs again from the warm cache without downloading the packages', async () => {
    const target = path.join(scratch, 'warm');
    await mkdir(target);
    const ctx = makeContext();
    const warm = await installRootTree(request(target), ctx);
    console.info(
      `mmdebstrap warm: ${warm.durationMs} ms, ${warm.packagesInstalled} packages, ${packageDownloads(ctx)} downloaded`,
    );
    expect(warm.packagesInstalled).toBe(cold.result.packagesInstalled);
    expect(packageDownloads(cold.ctx)).toBeGreaterThan(50);
    expect(packageDownloads(ctx)).toBeLessThan(packageDownloads(cold.ctx) / 10);
    expect(await debsIn(target)).toEqual([]);
    await rm(target, { recursive: true, force: true });
  });

  it('copies the tree exactly with the copy method', async () => {
    const target = path.join(scratch, 'copy');
    await mkdir(target);
    const install = makeInstallSpec({ method: 'copy', source: cold.target });
    const result = await installRootTree({ install, target, packages: [] }, makeContext());
    expect(result).toMatchObject({
      method: 'copy',
      packagesInstalled: cold.result.packagesInstalled,
      kernel: cold.result.kernel,
    });
    expect(result.sanitized).toEqual([]);
    expect(await diffFromCold(target)).toEqual([]);
    await rm(target, { recursive: true, force: true });
  });

  it('restores the tree exactly from a zstd tarball with the tar method', async () => {
    const archive = path.join(scratch, 'tree.tar.zst');
    await createTar(cold.target, archive, 'zstd');
    const target = path.join(scratch, 'tar');
    await mkdir(target);
    const install = makeInstallSpec({ method: 'tar', source: archive });
    const result = await installRootTree({ install, target, packages: [] }, makeContext());
    expect(result).toMatchObject({ method: 'tar', packagesInstalled: cold.result.packagesInstalled });
    expect(await diffFromCold(target)).toEqual([]);
    await rm(target, { recursive: true, force: true });
  });

  it('leaves no process and no mount behind when cancelled while dpkg runs in the chroot', async () => {
    const target = path.join(scratch, 'cancelled');
    await mkdir(target);
    const controller = new AbortController();
    const ctx = makeContext(controller.signal);
    let sawMount = false;
    const report = ctx.reporter.progress;
    ctx.reporter.progress = (id, text) => {
      report(id, text);
      if (!controller.signal.aborted && /^configuring \d+\/\d+ /.test(text)) {
        void listMountsUnder(target).then((mounts) => {
          sawMount = mounts.length > 0;
          controller.abort(new Error('SIGTERM'));
        });
      }
    };
    const started = Date.now();
    let abortedAt = 0;
    controller.signal.addEventListener('abort', () => (abortedAt = Date.now()));
    const error = await installRootTree(request(target), ctx).catch((e: unknown) => e);
    console.info(
      `mmdebstrap cancelled ${(abortedAt - started) / 1000} s in, returned ${(Date.now() - abortedAt) / 1000} s later`,
    );
    expect(error).toMatchObject({ code: 'E_CANCELLED' });
    expect(sawMount).toBe(true);
    expect(await listProcessesInTree(target)).toEqual([]);
    expect(await listMountsUnder(target)).toEqual([]);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    await rm(target, { recursive: true, force: true });
  });
});

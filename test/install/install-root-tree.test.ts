import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeInstall, installRootTree } from '../../src/install/install-root-tree.js';
import type { InstallRequest } from '../../src/install/install-request.js';
import {
  DEFERRED_CA_CERTIFICATES,
  DEFERRED_INITRAMFS,
  MERGED_USR_HOOK_DIR,
  deferHook,
  runDeferredHook,
} from '../../src/install/mmdebstrap-install.js';
import { XenkitError } from '../../src/errors.js';
import { fakeArgv, installFakeTools, setFakeMode } from './fake-tools.js';
import { makeInstallSpec } from '../helpers/customize-fixtures.js';
import { makeContext } from './fixtures.js';

let scratch: string;
let bin: string;
let target: string;
const savedPath = process.env.PATH;

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'xenkit-install-'));
  bin = path.join(scratch, 'bin');
  await installFakeTools(bin);
  process.env.PATH = `${bin}:${savedPath ?? ''}`;
});
afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(async () => {
  target = await mkdtemp(path.join(scratch, 'target-'));
  await setFakeMode(bin, 'ok');
});
afterEach(async () => {
  await rm(target, { recursive: true, force: true });
});

function request(
  overrides: Partial<InstallRequest['install']> = {},
  extra: Partial<InstallRequest> = {},
): InstallRequest {
  return {
    install: makeInstallSpec({ cacheDir: path.join(scratch, 'cache'), ...overrides }),
    target,
    packages: [],
    ...extra,
  };
}

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('installRootTree with a fake mmdebstrap', () => {
  it('runs mmdebstrap, sanitizes the tree and reports what it installed', async () => {
    const ctx = makeContext();
    const result = await installRootTree(request({}, { packages: ['htop'] }), ctx);
    expect(result).toMatchObject({
      method: 'mmdebstrap',
      packagesInstalled: 2,
      kernel: '/boot/vmlinuz-6.1.0-9-amd64',
      initrd: '/boot/initrd.img-6.1.0-9-amd64',
    });
    expect(result.treeBytes).toBeGreaterThan(0);
    expect(result.sanitized).toEqual(
      expect.arrayContaining([
        '/etc/ssh/ssh_host_ed25519_key',
        '/var/cache/apt/archives/bash_5.2_amd64.deb',
        '/etc/machine-id',
      ]),
    );
    expect(await exists(path.join(target, 'etc/ssh/ssh_host_ed25519_key'))).toBe(false);
    expect(await exists(path.join(target, 'etc/ssh/sshd_config'))).toBe(true);
    expect(await readFile(path.join(target, 'etc/machine-id'), 'utf8')).toBe('');
    const argv = await fakeArgv(bin, 'mmdebstrap');
    expect(argv).toEqual(
      describeInstall(request({}, { packages: ['htop'] })).flatMap((a) =>
        a.kind === 'run' ? a.argv.slice(1) : [],
      ),
    );
    expect(argv.find((a) => a.startsWith('--include='))).toMatch(
      /openssh-server.*linux-image-cloud-amd64.*htop$/,
    );
    expect(ctx.progress).toEqual(
      expect.arrayContaining([
        'running apt-get update',
        'downloading 1/2',
        'unpacking 1/2 bash',
        'configuring 1/2 bash',
      ]),
    );
  });

  it('adds the cache hooks and keeps the essential debs when --cache is on', async () => {
    await installRootTree(request({ cache: true }), makeContext());
    const argv = await fakeArgv(bin, 'mmdebstrap');
    const cache = path.join(scratch, 'cache/debs/bookworm_amd64');
    expect(argv).toEqual(
      expect.arrayContaining([
        '--skip=essential/unlink',
        '--setup-hook=mkdir -p "$1"/var/cache/apt/archives/',
        `--setup-hook=sync-in ${cache} /var/cache/apt/archives/`,
        `--customize-hook=sync-out /var/cache/apt/archives ${cache}`,
      ]),
    );
    expect(await exists(cache)).toBe(true);
  });

  it('builds the initramfs and the CA store once: both diverted from the essential stage to the customize stage', async () => {
    await installRootTree(request(), makeContext());
    const argv = await fakeArgv(bin, 'mmdebstrap');
    const both = [DEFERRED_CA_CERTIFICATES, DEFERRED_INITRAMFS];
    expect(argv).toContain(`--essential-hook=${deferHook(both)}`);
    expect(argv).toContain(`--customize-hook=${runDeferredHook(both)}`);
    expect(deferHook(both)).toContain('--add /usr/sbin/update-initramfs');
    expect(deferHook(both)).toContain('--add /usr/sbin/update-ca-certificates');
    expect(runDeferredHook([DEFERRED_INITRAMFS])).toMatch(
      /--remove \/usr\/sbin\/update-initramfs && chroot "\$1" update-initramfs -c -k all$/,
    );
  });

  it('makes /usr merged by symlinks (no usrmerge, no perl) where the release has usr-is-merged', async () => {
    await installRootTree(request(), makeContext());
    expect(await fakeArgv(bin, 'mmdebstrap')).toContain(`--hook-directory=${MERGED_USR_HOOK_DIR}`);
    await rm(target, { recursive: true, force: true });
    await mkdir(target);
    await installRootTree(request({ dist: 'bullseye' }), makeContext());
    expect(await fakeArgv(bin, 'mmdebstrap')).not.toContain(`--hook-directory=${MERGED_USR_HOOK_DIR}`);
  });

  it('copies the guest initramfs configuration in before any package, and removes its source', async () => {
    await installRootTree(request(), makeContext());
    const source = path.join(path.dirname(target), `.${path.basename(target)}.initramfs`);
    const argv = await fakeArgv(bin, 'mmdebstrap');
    expect(argv.filter((a) => a.startsWith('--setup-hook='))[0]).toBe(`--setup-hook=copy-in ${source}/etc /`);
    expect(await exists(source)).toBe(false);
  });

  it('leaves the initramfs alone when no kernel is installed', async () => {
    await installRootTree(
      request({ extraPackages: [] }, { withBasePackages: false, packages: ['htop'] }),
      makeContext(),
    );
    expect((await fakeArgv(bin, 'mmdebstrap')).some((a) => a.includes('copy-in'))).toBe(false);
  });

  it('passes the apt proxy as an apt option and removes it from the tree afterwards', async () => {
    const proxy = 'http://proxy.example:3142';
    await installRootTree(request({ aptProxy: proxy }), makeContext());
    expect(await fakeArgv(bin, 'mmdebstrap')).toContain(`--aptopt=Acquire::http::Proxy "${proxy}"`);
    expect(await exists(path.join(target, 'etc/apt/apt.conf.d/99mmdebstrap'))).toBe(false);
  });

  it('fails with the tool output when mmdebstrap fails, after registering the release undo', async () => {
    await setFakeMode(bin, 'fail');
    const ctx = makeContext();
    const error = await installRootTree(request(), ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect((error as XenkitError).code).toBe('E_EXEC');
    expect((error as XenkitError).message).toContain('Unable to locate package');
    expect(ctx.undo.describe()).toEqual([`stop processes and unmount everything inside ${target}`]);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
  });

  it('kills the running tool when the signal aborts', async () => {
    await setFakeMode(bin, 'hang');
    const controller = new AbortController();
    const pending = installRootTree(request(), makeContext(controller.signal));
    const pidFile = path.join(bin, 'pid');
    await rm(pidFile, { force: true });
    for (let i = 0; i < 100 && !(await exists(pidFile)); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = Number(await readFile(pidFile, 'utf8'));
    controller.abort(new Error('SIGTERM'));
    const error = await pending.catch((e: unknown) => e);
    expect((error as XenkitError).code).toBe('E_CANCELLED');
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('refuses a tree without a shell as incomplete', async () => {
    await setFakeMode(bin, 'no-shell');
    await expect(installRootTree(request(), makeContext())).rejects.toMatchObject({
      code: 'E_INSTALL_INCOMPLETE',
    });
  });
});

describe('installRootTree with a fake debootstrap', () => {
  it('runs minbase with the cache dir and removes its policy-rc.d afterwards', async () => {
    const result = await installRootTree(
      request({ method: 'debootstrap', cache: true, aptProxy: 'http://p:1' }),
      makeContext(),
    );
    expect(result.method).toBe('debootstrap');
    const argv = await fakeArgv(bin, 'debootstrap');
    expect(argv).toEqual(
      expect.arrayContaining([
        '--variant=minbase',
        `--cache-dir=${path.join(scratch, 'cache/debs/bookworm_amd64')}`,
      ]),
    );
    expect(argv.slice(-3)).toEqual(['bookworm', target, 'http://deb.debian.org/debian']);
    expect(await exists(path.join(target, 'usr/sbin/policy-rc.d'))).toBe(false);
    // Written before debootstrap ran, so the kernel's postinst builds the small initramfs.
    expect(await readFile(path.join(target, 'etc/initramfs-tools/conf.d/xenkit-guest'), 'utf8')).toMatch(
      /^MODULES=list$/m,
    );
  });

  it('runs the --debootstrap-cmd program with its arguments', async () => {
    await installRootTree(
      request({ method: 'debootstrap', debootstrapCommand: `${bin}/debootstrap --no-check-gpg` }),
      makeContext(),
    );
    expect((await fakeArgv(bin, 'debootstrap'))[0]).toBe('--no-check-gpg');
  });
});

describe('installRootTree checks', () => {
  it('does nothing at all for --install=0', async () => {
    const result = await installRootTree(request({ enabled: false }), makeContext());
    expect(result).toMatchObject({ method: 'none', packagesInstalled: 0, treeBytes: 0 });
    expect(await readdir(target)).toEqual([]);
  });

  it.each([
    ['a non-empty target', async () => writeFile(path.join(target, 'stray'), ''), /not empty/],
    ['a missing target', async () => rm(target, { recursive: true }), /not a directory/],
  ])('refuses %s', async (_name, prepare, message) => {
    await prepare();
    await expect(installRootTree(request(), makeContext())).rejects.toThrow(message);
  });

  it.each([
    ['copy', '/nonexistent/tree', /is not a directory/],
    ['tar', '/nonexistent/root.tar', /is not a file/],
  ] as const)('rejects a %s source that is not there', async (method, source, message) => {
    await expect(installRootTree(request({ method, source }), makeContext())).rejects.toThrow(message);
  });
});

describe('describeInstall', () => {
  it.each([
    ['mmdebstrap', 'mmdebstrap'],
    ['debootstrap', 'debootstrap'],
    ['copy', 'cp'],
    ['tar', 'tar'],
  ] as const)('lists the %s run followed by the sanitizing', (method, program) => {
    const actions = describeInstall(request({ method, source: '/src/tree' }));
    const runs = actions.filter((a) => a.kind === 'run');
    expect(runs.map((a) => (a.kind === 'run' ? a.argv[0] : ''))).toEqual([program]);
    expect(actions).toContainEqual({ kind: 'write', path: path.join(target, 'etc/machine-id'), content: '' });
  });

  it('lists the updates and security suites as extra mmdebstrap mirrors', () => {
    const run = describeInstall(request({ securityMirror: 'http://sec.example/debian-security' })).find(
      (a) => a.kind === 'run',
    );
    expect(run?.kind === 'run' && run.argv.slice(-2)).toEqual([
      'deb http://deb.debian.org/debian bookworm-updates main non-free-firmware',
      'deb http://sec.example/debian-security bookworm-security main non-free-firmware',
    ]);
  });

  it('says only that nothing happens for --install=0', () => {
    expect(describeInstall(request({ enabled: false }))).toEqual([
      { kind: 'note', text: 'installation disabled (--install=0): the target is left as it is' },
    ]);
  });
});

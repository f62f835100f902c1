import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, chmod, mkdir, stat, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFERRED_CA_CERTIFICATES,
  DEFERRED_INITRAMFS,
  prefetchHook,
  prefetchWaitHook,
  runDeferredHook,
  sshKeyPlaceholderCleanupHook,
  sshKeyPlaceholderHook,
} from '../../src/install/mmdebstrap-install.js';

const run = promisify(execFile);

/**
 * The customize hook run by sh as mmdebstrap runs it (`sh -c HOOK exec TARGET`), with a fake
 * chroot that logs what it is asked to run. update-ca-certificates waits (up to 5 s) for
 * update-initramfs to have started, so a passing run shows the two overlap.
 */
const FAKE_CHROOT = `#!/bin/sh
dir=$1; shift
echo "$*" >> "$LOG"
case "$1" in
  update-ca-certificates)
    i=0; while [ ! -e "$MARK" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
    [ -e "$MARK" ] && echo overlapped >> "$LOG"
    exit \${CA_EXIT:-0} ;;
  update-initramfs) : > "$MARK"; exit \${INITRAMFS_EXIT:-0} ;;
esac
exit 0
`;

let scratch: string;
beforeEach(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'xenkit-deferred-'));
  await writeFile(path.join(scratch, 'chroot'), FAKE_CHROOT);
  await chmod(path.join(scratch, 'chroot'), 0o755);
});
afterEach(() => rm(scratch, { recursive: true, force: true }));

async function runHook(env: Record<string, string> = {}): Promise<{ code: number; log: string[] }> {
  const hook = runDeferredHook([DEFERRED_CA_CERTIFICATES, DEFERRED_INITRAMFS]);
  const target = path.join(scratch, 'target');
  const log = path.join(scratch, 'log');
  let code = 0;
  try {
    await run('sh', ['-c', hook, 'exec', target], {
      env: {
        PATH: `${scratch}:/usr/bin:/bin`,
        LOG: log,
        MARK: path.join(scratch, 'initramfs-started'),
        ...env,
      },
    });
  } catch (error) {
    code = (error as { code: number }).code;
  }
  const text = await readFile(log, 'utf8').catch(() => '');
  return { code, log: text.trim().split('\n') };
}

describe('the customize hook that runs the deferred programs once', () => {
  it('puts both programs back first, then runs them side by side', async () => {
    const { code, log } = await runHook();
    expect(code).toBe(0);
    expect(log.slice(0, 2)).toEqual([
      'dpkg-divert --quiet --local --rename --divert /usr/sbin/update-ca-certificates.xenkit --remove /usr/sbin/update-ca-certificates',
      'dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.xenkit --remove /usr/sbin/update-initramfs',
    ]);
    expect(log).toEqual(
      expect.arrayContaining(['update-ca-certificates --fresh', 'update-initramfs -c -k all', 'overlapped']),
    );
  });

  it('fails when the program in the background fails', async () => {
    expect((await runHook({ CA_EXIT: '3' })).code).not.toBe(0);
  });

  it('fails when the program in the foreground fails, after waiting for the other', async () => {
    const { code, log } = await runHook({ INITRAMFS_EXIT: '1' });
    expect(code).not.toBe(0);
    expect(log).toContain('overlapped');
  });

  it('runs a single program in the foreground', async () => {
    const hook = runDeferredHook([DEFERRED_INITRAMFS]);
    expect(hook).not.toMatch(/[^&]&[^&]/);
    expect(hook.endsWith('chroot "$1" update-initramfs -c -k all')).toBe(true);
  });
});

describe("the placeholders that keep openssh-server's postinst from making host keys", () => {
  const hook = (script: string, target: string): Promise<unknown> =>
    run('sh', ['-c', script, 'exec', target]);

  it('leaves an empty root-only file at each default path, and the cleanup removes only empty ones', async () => {
    const target = path.join(scratch, 'target');
    await mkdir(path.join(target, 'etc/ssh'), { recursive: true });
    // A key already there (from a copy-in, say) is neither replaced nor removed.
    await writeFile(path.join(target, 'etc/ssh/ssh_host_ecdsa_key'), 'a real key\n', { mode: 0o600 });
    await hook(sshKeyPlaceholderHook(), target);
    const rsa = await stat(path.join(target, 'etc/ssh/ssh_host_rsa_key'));
    expect([rsa.size, rsa.mode & 0o777]).toEqual([0, 0o600]);
    expect((await stat(path.join(target, 'etc/ssh/ssh_host_ed25519_key'))).size).toBe(0);
    expect(await readFile(path.join(target, 'etc/ssh/ssh_host_ecdsa_key'), 'utf8')).toBe('a real key\n');
    // The postinst made the ed25519 key after all (a changed HostKey list): kept.
    await writeFile(path.join(target, 'etc/ssh/ssh_host_ed25519_key'), 'made\n');
    await hook(sshKeyPlaceholderCleanupHook(), target);
    expect((await readdir(path.join(target, 'etc/ssh'))).sort()).toEqual([
      'ssh_host_ecdsa_key',
      'ssh_host_ed25519_key',
    ]);
  });

  it('makes /etc/ssh when the essential stage has none yet', async () => {
    const target = path.join(scratch, 'bare');
    await mkdir(target);
    await hook(sshKeyPlaceholderHook(), target);
    expect((await readdir(path.join(target, 'etc/ssh'))).length).toBe(3);
  });
});

describe('the prefetch of the packages after the essential stage', () => {
  const FAKE_APT = `#!/bin/sh
echo "apt-get $*" > "$APT_LOG"
echo "config $APT_CONFIG" >> "$APT_LOG"
[ -n "$APT_SLEEP" ] && sleep "$APT_SLEEP"
echo 'Fetched 89.8 MB in 5s'
exit \${APT_EXIT:-0}
`;
  const archives = (target: string): string => path.join(target, 'var/cache/apt/archives');
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function setUp(): Promise<{ target: string; env: NodeJS.ProcessEnv }> {
    const target = path.join(scratch, 'target');
    await mkdir(archives(target), { recursive: true });
    await writeFile(path.join(scratch, 'apt-get'), FAKE_APT);
    await chmod(path.join(scratch, 'apt-get'), 0o755);
    const env = {
      PATH: `${scratch}:/usr/bin:/bin`,
      APT_LOG: path.join(scratch, 'apt.log'),
      MMDEBSTRAP_APT_CONFIG: '/tmp/mmdebstrap.apt.conf',
    };
    return { target, env };
  }

  it("runs apt-get --download-only with mmdebstrap's apt config, and the wait hook reports it and removes its files", async () => {
    const { target, env } = await setUp();
    // The parent (mmdebstrap) stays while the prefetch runs.
    const parent = run(
      'sh',
      ['-c', 'sh -c "$0" exec "$1"; sleep 2', prefetchHook(['udev', 'openssh-server']), target],
      { env },
    );
    await until(async () => (await readdir(archives(target))).includes('xenkit-prefetch.done'));
    const log = await readFile(env.APT_LOG!, 'utf8');
    expect(log).toContain(
      'apt-get --yes -o Debug::NoLocking=true --download-only install udev openssh-server',
    );
    expect(log).toContain('config /tmp/mmdebstrap.apt.conf');
    const { stderr } = await run('sh', ['-c', prefetchWaitHook(), 'exec', target], { env });
    expect(stderr).toContain('prefetch: Fetched 89.8 MB in 5s');
    expect(stderr).toContain('prefetch: exit status 0');
    expect(await readdir(archives(target))).toEqual([]);
    await parent;
  });

  it('stops itself when mmdebstrap goes away (a cancelled run)', async () => {
    const { target, env } = await setUp();
    const parent = run('sh', ['-c', 'sh -c "$0" exec "$1"; exec sleep 30', prefetchHook(['udev']), target], {
      env: { ...env, APT_SLEEP: '30' },
    });
    const pidFile = path.join(archives(target), 'xenkit-prefetch.pid');
    await until(async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() !== '');
    const apt = Number((await readFile(pidFile, 'utf8')).trim());
    expect(alive(apt)).toBe(true);
    parent.child.kill('SIGKILL');
    await parent.catch(() => undefined);
    await until(async () => !alive(apt));
    await until(async () => (await readdir(archives(target))).includes('xenkit-prefetch.done'));
  });
});

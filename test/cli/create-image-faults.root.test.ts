/**
 * Fault tests of xen-create-image: a failure at any step (a failpoint right after the step did its
 * work, a failing tool, a full disk, SIGTERM) leaves no mount, no loop device and no file of the new
 * guest, and an existing guest of the same name untouched. Needs root.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { runBin, type CliResult } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const STEPS = [
  'guest.lock',
  'install.staging',
  'install.tree',
  'customize',
  'config.domain',
  'boot.kernel',
  'storage.disk',
  'storage.swap',
  'install.cleanup',
  'boot.kernel.wait',
  'storage.commit',
];

/** Every path under `dir` with its type, size, inode and (files) mtime: a change anywhere shows up. */
function snapshot(dir: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const full = path.join(d, name);
      const rel = path.relative(dir, full);
      if (skip(rel)) continue;
      const st = fs.lstatSync(full);
      // A directory's mtime changes when an entry is added and removed again; that touches nothing.
      out.set(
        rel,
        st.isDirectory() ? `${st.mode}:${st.ino}` : `${st.mode}:${st.size}:${st.ino}:${st.mtimeMs}`,
      );
      if (st.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return out;
}

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}

function loopsUnder(dir: string): string[] {
  return execFileSync('losetup', ['-a'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(dir));
}

describe.skipIf(!isRoot)('a failed xen-create-image unwinds everything it made', () => {
  let scratch: string;
  let root: string;
  const base = (name: string): string[] => [
    `--hostname=${name}`,
    `--root=${root}`,
    '--dir=/srv',
    '--dhcp',
    '--size=1G',
    '--swap=64M',
    '--install-method=tar',
    '--install-source=/tree.tar',
    '--genpass=1',
    '--quiet',
  ];
  const create = (name: string, extra: string[] = [], env: Record<string, string> = {}): Promise<CliResult> =>
    // TCG whatever the host offers: the plan has its kernel steps (the tree has no kernel to unpack).
    runBin('xen-create-image', [...base(name), ...extra], {
      env: { XENKIT_ACCEL: 'tcg', ...env },
      timeoutMs: 300_000,
    });
  const isNewLog = (rel: string): boolean => rel === 'var/log/xen-tools/new1.log';

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-faults-'));
    root = path.join(scratch, 'root');
    fs.mkdirSync(root);
    fs.copyFileSync(await bookwormTarball(), path.join(root, 'tree.tar'));
    const made = await create('old1');
    if (made.code !== 0) throw new Error(`could not create the existing guest:\n${made.stderr}`);
  }, 900_000);

  afterAll(() => {
    for (const m of mountsUnder(scratch).reverse()) execFileSync('umount', ['-l', m]);
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it.each(STEPS)('leaves nothing of a new guest when it fails after %s', async (step) => {
    const before = snapshot(root, isNewLog);
    const result = await create('new1', [], { XENKIT_FAILPOINT: step });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`failpoint after step ${step}`);
    expect(snapshot(root, isNewLog)).toEqual(before);
    expect(mountsUnder(scratch)).toEqual([]);
    expect(loopsUnder(scratch)).toEqual([]);
    // The log stays, to explain the failure, and says what was undone.
    expect(fs.readFileSync(path.join(root, 'var/log/xen-tools/new1.log'), 'utf8')).toContain('<< undo');
  });

  it.each(STEPS)('leaves an existing guest untouched when --force fails after %s', async (step) => {
    const before = snapshot(root, (rel) => rel === 'var/log/xen-tools/old1.log');
    const result = await create('old1', ['--force'], { XENKIT_FAILPOINT: step });
    expect(result.code, result.stderr).toBe(1);
    expect(snapshot(root, (rel) => rel === 'var/log/xen-tools/old1.log')).toEqual(before);
    expect(mountsUnder(scratch)).toEqual([]);
  });

  it("takes its line out of the host's /etc/hosts again when a static guest fails after adding it", async () => {
    const hosts = path.join(root, 'etc/hosts');
    fs.writeFileSync(hosts, '127.0.0.1 localhost\n# admin line\n');
    const skip = (rel: string): boolean => isNewLog(rel) || rel === 'etc/hosts';
    const before = snapshot(root, skip);
    const args = [...base('new1').filter((a) => a !== '--dhcp'), '--ip=192.0.2.44', '--netmask=24'];
    const result = await runBin('xen-create-image', args, {
      env: { XENKIT_FAILPOINT: 'host.hosts' },
      timeoutMs: 300_000,
    });
    expect(result.code, result.stderr).toBe(1);
    expect(fs.readFileSync(hosts, 'utf8')).toBe('127.0.0.1 localhost\n# admin line\n');
    expect(snapshot(root, skip)).toEqual(before);
    fs.rmSync(hosts);
  });

  it('shows every command with --verbose, and the log has them too', async () => {
    const result = await create('verb1', ['--verbose']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^\$ mkfs\.ext4 .*# exit 0/m);
    expect(fs.readFileSync(path.join(root, 'var/log/xen-tools/verb1.log'), 'utf8')).toMatch(/\$ mkfs\.ext4 /);
  });

  it('unwinds when a tool fails (a fake mkfs.ext4 first on PATH)', async () => {
    const bin = path.join(scratch, 'fakebin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(
      path.join(bin, 'mkfs.ext4'),
      '#!/bin/sh\necho "mkfs.ext4: simulated failure" >&2\nexit 1\n',
      {
        mode: 0o755,
      },
    );
    const before = snapshot(root, isNewLog);
    const result = await create('new1', [], { PATH: `${bin}:${process.env.PATH}` });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('simulated failure');
    expect(snapshot(root, isNewLog)).toEqual(before);
  });

  it('unwinds when the disk fills up, leaving no mount or loop device', async () => {
    const small = path.join(root, 'small');
    const image = path.join(scratch, 'small.img');
    execFileSync('truncate', ['-s', '200M', image]);
    execFileSync('mkfs.ext4', ['-q', image]);
    fs.mkdirSync(small);
    execFileSync('mount', ['-o', 'loop', image, small]);
    try {
      const before = snapshot(root, isNewLog);
      const result = await runBin('xen-create-image', [...base('new1'), '--dir=/small', '--image=full'], {
        timeoutMs: 300_000,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/space|too small|full/i);
      expect(snapshot(root, isNewLog)).toEqual(before);
      const sparse = await runBin('xen-create-image', [...base('new1'), '--dir=/small', '--size=4G'], {
        timeoutMs: 300_000,
      });
      expect(sparse.code).toBe(1);
      expect(snapshot(root, isNewLog)).toEqual(before);
      expect(mountsUnder(small)).toEqual([]);
      expect(loopsUnder(scratch).filter((l) => !l.includes('small.img'))).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
      fs.rmdirSync(small);
    }
  });

  it('unwinds on SIGTERM in the middle of the installation', async () => {
    const before = snapshot(root, isNewLog);
    const guestDir = path.join(root, 'srv/domains/new1');
    let pid = 0;
    const pending = runBin('xen-create-image', base('new1'), {
      onSpawn: (p) => (pid = p),
      timeoutMs: 300_000,
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const staged =
        fs.existsSync(guestDir) && fs.readdirSync(guestDir).some((n) => n.startsWith('.xenkit-tree'));
      if (staged) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(pid, 'SIGTERM');
    const result = await pending;
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('cancelled');
    expect(snapshot(root, isNewLog)).toEqual(before);
    expect(mountsUnder(scratch)).toEqual([]);
  });
});

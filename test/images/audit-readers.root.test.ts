/**
 * How `xenkit audit` reads images other than raw ext4, with the real tools and without writing a
 * byte: a btrfs image (read-only loop mount, no log replay) and a qcow2 image of ext4 (read-only
 * qemu-storage-daemon export, then debugfs), made from one small tree with weak keys in it. A
 * guest symlink pointing at a host path is not followed. Needs root; seconds, no guest is built.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditGuests } from '../../src/images/audit.js';
import { makePaths, type Paths } from '../../src/paths.js';
import { hostStorageState } from '../helpers/storage-fixtures.js';

const isRoot = process.getuid?.() === 0;
const digest = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe.skipIf(!isRoot)('audit reads btrfs and qcow2 images read-only', () => {
  let scratch = '';
  let paths: Paths;
  const images: Record<string, string> = {};

  beforeAll(() => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-audit-readers-'));
    paths = makePaths(path.join(scratch, 'root'));
    const tree = path.join(scratch, 'tree');
    for (const dir of ['etc/ssh', 'var/lib/systemd']) fs.mkdirSync(path.join(tree, dir), { recursive: true });
    fs.writeFileSync(path.join(tree, 'etc/fstab'), '');
    fs.writeFileSync(path.join(tree, 'etc/machine-id'), '5f0c8a33b9e64b0d9d3c2a7e0e1f2a3b\n');
    fs.writeFileSync(path.join(tree, 'var/lib/systemd/random-seed'), '');
    for (const [type, bits] of [
      ['ed25519', []],
      ['rsa', ['-b', '1024']],
      ['dsa', []],
    ] as const) {
      const file = path.join(tree, `etc/ssh/ssh_host_${type}_key`);
      execFileSync('ssh-keygen', ['-q', '-N', '', '-t', type, ...bits, '-f', file]);
    }
    // Followed on the host, this would be the host's own key (or nothing): it must not be read.
    fs.symlinkSync('/etc/ssh/ssh_host_ed25519_key.pub', path.join(tree, 'etc/ssh/ssh_host_link_key.pub'));
    const domains = path.join(paths.root, 'srv/domains');
    fs.mkdirSync(paths.xenDir, { recursive: true });
    const guests = [
      ['btr', 'raw', 'disk.img'],
      ['qco', 'qcow2', 'disk.qcow2'],
    ] as const;
    for (const [name, , file] of guests) {
      const dir = path.join(domains, name);
      fs.mkdirSync(dir, { recursive: true });
      images[name] = path.join(dir, file);
    }
    // mkfs.btrfs wants the file to exist (it probes it for zones first).
    fs.writeFileSync(images['btr']!, '');
    fs.truncateSync(images['btr']!, 256 << 20);
    execFileSync('mkfs.btrfs', ['-q', '--rootdir', tree, images['btr']!]);
    const ext = path.join(scratch, 'ext.img');
    execFileSync('mkfs.ext4', ['-q', '-d', tree, ext, '64M']);
    execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', ext, images['qco']!]);
    fs.rmSync(ext);
    for (const [i, [name, format]] of guests.entries()) {
      const spec =
        format === 'raw'
          ? `file:${images[name]},xvda2,w`
          : `format=qcow2, vdev=xvda2, access=rw, target=${images[name]}`;
      fs.writeFileSync(
        path.join(paths.xenDir, `${name}.cfg`),
        `memory = '256'\ndisk = [ '${spec}' ]\nname = '${name}'\nvif = [ 'mac=00:16:3E:00:00:0${i}' ]\n`,
      );
    }
  });

  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('finds the keys and machine-id both share and what is weak in each, changing nothing', async () => {
    const before = Object.fromEntries(
      Object.entries(images).map(([n, f]) => [n, [digest(f), fs.statSync(f).mtimeMs]]),
    );
    const report = await auditGuests(paths, []);
    const btr = report.guests.find((g) => g.name === 'btr');
    const qco = report.guests.find((g) => g.name === 'qco');
    expect(btr?.root?.method).toBe('mount');
    expect(qco?.root?.method).toBe('debugfs');
    expect(btr?.disks[0]?.fsType).toBe('btrfs');
    expect(qco?.disks[0]?.fsType).toBe('ext4');
    for (const guest of [btr, qco]) {
      expect(guest?.problems).toEqual([]);
      expect(guest?.hostKeys.map((k) => `${k.type} ${k.bits}`).sort()).toEqual([
        'DSA 1024',
        'ED25519 256',
        'RSA 1024',
      ]);
      expect(guest?.hostKeys.map((k) => k.file)).not.toContain('/etc/ssh/ssh_host_link_key.pub');
      expect(guest?.hostKeys.every((k) => (k.bornAt ?? 0) > 0)).toBe(true);
    }
    const kinds = report.findings.map((f) => `${f.kind} ${f.where.map((w) => w.guest).join(',')}`).sort();
    expect(kinds).toEqual([
      'dsa-key btr',
      'dsa-key qco',
      'empty-random-seed btr',
      'empty-random-seed qco',
      'shared-host-key btr,qco',
      'shared-host-key btr,qco',
      'shared-host-key btr,qco',
      'shared-machine-id btr,qco',
      'weak-rsa-key btr',
      'weak-rsa-key qco',
    ]);
    const after = Object.fromEntries(
      Object.entries(images).map(([n, f]) => [n, [digest(f), fs.statSync(f).mtimeMs]]),
    );
    expect(after).toEqual(before);
    // Nothing of the read is left: no loop device, mount or export on these images.
    expect(await hostStorageState([scratch])).toEqual({ loops: [], mounts: [] });
  });

  it('reads a qcow2 image that a running QEMU holds open for writing', async () => {
    // A writer holding QEMU's image locks, as a running guest's QEMU does.
    const pidFile = path.join(scratch, 'writer.pid');
    const writer = spawn(
      'qemu-storage-daemon',
      [
        '--blockdev',
        `driver=qcow2,node-name=w,file.driver=file,file.filename=${images['qco']!}`,
        '--pidfile',
        pidFile,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    writer.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exited: string | undefined;
    writer.on('exit', (code, signal) => (exited = `exited (${code ?? signal})`));
    try {
      // QEMU writes its pidfile once the image is open (and locked).
      const lock = await waitForLock(images['qco']!, () => exited !== undefined || fs.existsSync(pidFile));
      expect(
        lock.locked,
        `the writer never took the lock: qemu-storage-daemon ${exited ?? 'running'}, ` +
          `its stderr: ${JSON.stringify(stderr)}, qemu-img info: ${JSON.stringify(lock.last)}`,
      ).toBe(true);
      const report = await auditGuests(paths, ['qco']);
      const qco = report.guests.find((g) => g.name === 'qco');
      expect(qco?.problems).toEqual([]);
      expect(qco?.root?.method).toBe('debugfs');
      expect(qco?.hostKeys.map((k) => `${k.type} ${k.bits}`).sort()).toEqual([
        'DSA 1024',
        'ED25519 256',
        'RSA 1024',
      ]);
    } finally {
      writer.kill('SIGKILL');
    }
  });
});

/**
 * Waits until the writer is ready (`ready`: its pidfile is there, or it exited), then until
 * `image` is locked by it (qemu-img info then fails without -U); at most 30 s in all.
 */
async function waitForLock(image: string, ready: () => boolean): Promise<{ locked: boolean; last: string }> {
  const end = Date.now() + 30_000;
  while (!ready() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
  let last = '';
  while (Date.now() < end) {
    const r = spawnSync('qemu-img', ['info', image], { encoding: 'utf8' });
    last = `exit ${r.status}: ${r.stderr.trim()}`;
    if (r.status !== 0 && /lock/.test(r.stderr)) return { locked: true, last };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { locked: false, last };
}

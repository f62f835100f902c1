/**
 * `xen-create-image --host NAME` without a libvirt: the host is looked up in the hosts file (an
 * unknown one is exit 2 naming it, nothing written), LVM is refused, and --dry-run shows the
 * upload into the pool and the definition there. The real run is in
 * test/hypervisors/libvirt/migrate.root.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBin } from '../helpers/cli.js';

let root: string;
const BASE = ['--hostname=web9', '--dir=/srv/xen', '--dhcp', '--install=0', '--size=64M', '--noswap'];

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-remote-create-'));
  fs.mkdirSync(path.join(root, 'etc/xenkit'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/xenkit/hosts'), 'node2 qemu+tcp://10.0.0.2/system\n');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const run = (...args: string[]) => runBin('xen-create-image', [`--root=${root}`, ...BASE, ...args]);

describe('xen-create-image --host', () => {
  it('refuses a host that is not configured (exit 2), writing nothing', async () => {
    const before = fs.readdirSync(root, { recursive: true }).sort();
    const result = await run('--host=nosuch', '--dry-run');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no host "nosuch" in .*etc\/xenkit\/hosts/);
    expect(fs.readdirSync(root, { recursive: true }).sort()).toEqual(before);
  });

  it('refuses LVM storage: the images go into the remote pool (exit 2)', async () => {
    const result = await runBin('xen-create-image', [
      `--root=${root}`,
      '--hostname=web9',
      '--lvm=vg0',
      '--dhcp',
      '--install=0',
      '--host=node2',
      '--dry-run',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--host builds image files and uploads them');
  });

  it('shows the check, the upload into the pool, the definition there and the staging removal in --dry-run', async () => {
    const result = await run('--host=node2', '--pool=guests', '--dry-run');
    expect(result.code, result.stderr).toBe(0);
    const uri = 'qemu+tcp://10.0.0.2/system';
    expect(result.stdout).toContain(`virsh --connect ${uri} pool-info guests`);
    expect(result.stdout).toContain(
      `virsh --connect ${uri} vol-create-as guests web9-disk.img SIZE --format raw`,
    );
    expect(result.stdout).toMatch(
      new RegExp(
        `virsh --connect ${uri.replaceAll('+', '\\+')} vol-upload --sparse --pool guests web9-disk.img \\S+/remote-staging/web9-[0-9a-f]+/disk.img`,
      ),
    );
    expect(result.stdout).toMatch(/virsh --connect \S+ define \S+\/domain\.xml/);
    expect(result.stdout).toContain('Remove the staging directory');
    // Nothing for this host: no cfg in /etc/xen, no line in its /etc/hosts.
    expect(result.stdout).not.toContain(path.join(root, 'etc/xen/web9.cfg'));
    expect(result.stdout).not.toContain("to the host's /etc/hosts");
  });
});

import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeSanitize, sanitizeRootTree } from '../../src/install/sanitize.js';

let root: string;
let tree: string;

async function put(rel: string, content = 'x'): Promise<void> {
  await mkdir(path.dirname(path.join(tree, rel)), { recursive: true });
  await writeFile(path.join(tree, rel), content);
}

const exists = (rel: string): Promise<boolean> =>
  stat(path.join(tree, rel)).then(
    () => true,
    () => false,
  );

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'xenkit-sanitize-'));
  tree = path.join(root, 'tree');
  await mkdir(tree);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('sanitizeRootTree', () => {
  it.each([
    'var/cache/apt/archives/bash_5.2_amd64.deb',
    'var/cache/apt/archives/partial/libc6_2.36_amd64.deb',
    'var/cache/apt/pkgcache.bin',
    'var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease',
    'etc/ssh/ssh_host_ed25519_key',
    'etc/ssh/ssh_host_ed25519_key.pub',
    'etc/ssh/ssh_host_rsa_key',
    'var/lib/systemd/random-seed',
    'var/lib/systemd/credential.secret',
    'var/lib/dhcp/dhclient.eth0.leases',
    'etc/udev/rules.d/70-persistent-net.rules',
    'var/lib/dbus/machine-id',
  ])('removes %s', async (rel) => {
    await put(rel);
    const changed = await sanitizeRootTree(tree);
    expect(await exists(rel)).toBe(false);
    expect(changed).toContain(`/${rel}`);
  });

  it.each([
    'var/cache/apt/archives/lock',
    'var/lib/apt/lists/lock',
    'etc/ssh/sshd_config',
    'etc/ssh/ssh_config',
    'etc/udev/rules.d/99-local.rules',
    'var/lib/systemd/deb-systemd-helper-enabled/x',
  ])('keeps %s', async (rel) => {
    await put(rel);
    await sanitizeRootTree(tree);
    expect(await exists(rel)).toBe(true);
  });

  it('empties machine-id instead of removing it, so systemd makes a new one on first boot', async () => {
    await put('etc/machine-id', '0123456789abcdef0123456789abcdef\n');
    expect(await sanitizeRootTree(tree)).toEqual(['/etc/machine-id']);
    expect(await readFile(path.join(tree, 'etc/machine-id'), 'utf8')).toBe('');
  });

  it('keeps the dbus machine-id when it is the usual symlink to /etc/machine-id', async () => {
    await mkdir(path.join(tree, 'var/lib/dbus'), { recursive: true });
    await symlink('/etc/machine-id', path.join(tree, 'var/lib/dbus/machine-id'));
    await sanitizeRootTree(tree);
    expect((await readdir(path.join(tree, 'var/lib/dbus'))).length).toBe(1);
  });

  it('never follows a symlinked directory out of the tree', async () => {
    const outside = path.join(root, 'host-etc-ssh');
    await mkdir(outside);
    await writeFile(path.join(outside, 'ssh_host_rsa_key'), 'the host key');
    await mkdir(path.join(tree, 'etc'));
    await symlink(outside, path.join(tree, 'etc/ssh'));
    expect(await sanitizeRootTree(tree)).toEqual([]);
    expect(await readFile(path.join(outside, 'ssh_host_rsa_key'), 'utf8')).toBe('the host key');
  });

  it('changes nothing in a tree without any of it', async () => {
    expect(await sanitizeRootTree(tree)).toEqual([]);
  });
});

describe('describeSanitize', () => {
  it('lists each rule under the target and empties machine-id', () => {
    const actions = describeSanitize('/stage');
    expect(actions).toContainEqual({ kind: 'write', path: '/stage/etc/machine-id', content: '' });
    expect(actions.some((a) => a.kind === 'note' && a.text.includes('/stage/etc/ssh/'))).toBe(true);
  });
});

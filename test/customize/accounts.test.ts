import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { customizeGuest } from '../../src/customize/customize-guest.js';
import {
  makeContext,
  makeFakeTree,
  makeSpec,
  readTree,
  tempDir,
  writeFiles,
} from '../helpers/customize-fixtures.js';
import type { GuestSpec } from '../../src/model/guest-spec.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fakeHost(): { passwd: string; shadow: string; group: string } {
  const dir = tempDir('xenkit-host-');
  dirs.push(dir);
  writeFiles(dir, {
    passwd: [
      'root:x:0:0:root:/root:/bin/bash',
      'sshd:x:105:65534::/run/sshd:/usr/sbin/nologin',
      'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
      'bob:x:1001:1001:Bob:/home/bob:/bin/zsh',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    ].join('\n'),
    shadow:
      'root:$6$root$roothash:19000::::::\nalice:$6$a$alicehash:19000:0:99999:7:::\nbob:$y$j9T$b$bobhash:19000:0:99999:7:::\n',
    group: 'root:x:0:\nsudo:x:27:alice\nalice:x:1000:\nbob:x:1001:\ndocker:x:999:alice,bob\n',
  });
  return {
    passwd: path.join(dir, 'passwd'),
    shadow: path.join(dir, 'shadow'),
    group: path.join(dir, 'group'),
  };
}

async function customize(spec: GuestSpec, root: string, host = fakeHost()): Promise<void> {
  spec.network.mode = 'none';
  await customizeGuest(
    root,
    spec,
    { rootUuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', rootFs: 'ext4' },
    makeContext().ctx,
    { host: { ...host, hosts: '/dev/null', resolvConf: '/dev/null' }, useSystemctl: false },
  );
}

describe('accounts', () => {
  it("copies the host's regular users with their hashes, groups and homes, skipping system users", async () => {
    const root = makeFakeTree();
    dirs.push(root);
    const spec = makeSpec();
    spec.accounts.copyAccounts = true;
    await customize(spec, root);
    const passwd = readTree(root, 'etc/passwd');
    expect(passwd).toContain('alice:x:1000:1000:Alice:/home/alice:/bin/bash\n');
    expect(passwd).toContain('bob:x:1001:1001:Bob:/home/bob:/bin/zsh\n');
    expect(passwd).not.toMatch(/^(sshd|nobody):/m);
    expect(passwd.match(/^root:/gm)).toHaveLength(1);
    expect(readTree(root, 'etc/shadow')).toContain('alice:$6$a$alicehash:19000:0:99999:7:::\n');
    expect(readTree(root, 'etc/shadow')).toMatch(/^root:\*:/m);
    expect(readTree(root, 'etc/group')).toContain('alice:x:1000:\n');
    expect(readTree(root, 'etc/group')).toContain('sudo:x:27:alice\n');
    expect(readTree(root, 'etc/group')).not.toContain('docker');
    expect(readTree(root, 'etc/gshadow')).toContain('alice:!::\n');
    expect(readTree(root, 'home/alice/.bashrc')).toBe('# bashrc\n');
    expect(fs.statSync(path.join(root, 'home/alice')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(root, 'etc/shadow')).mode & 0o777).toBe(0o640);
  });

  it('does not copy a user whose name already exists in the guest', async () => {
    const root = makeFakeTree();
    dirs.push(root);
    fs.appendFileSync(path.join(root, 'etc/passwd'), 'alice:x:1500:1500:Guest Alice:/home/alice:/bin/sh\n');
    const spec = makeSpec();
    spec.accounts.copyAccounts = true;
    await customize(spec, root);
    expect(readTree(root, 'etc/passwd').match(/^alice:/gm)).toEqual(['alice:']);
    expect(readTree(root, 'etc/passwd')).toContain('alice:x:1500:');
  });

  it("creates admins in the sudo group with root's keys and a locked password", async () => {
    const root = makeFakeTree();
    dirs.push(root);
    const spec = makeSpec();
    spec.accounts.admins = ['carol'];
    spec.accounts.sshAuthorizedKeys = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxenkittestkey carol@laptop'];
    await customize(spec, root);
    expect(readTree(root, 'etc/passwd')).toContain('carol:x:1000:1000:carol,,,:/home/carol:/bin/bash\n');
    expect(readTree(root, 'etc/shadow')).toMatch(/^carol:!:\d+:/m);
    expect(readTree(root, 'etc/group')).toContain('sudo:x:27:carol\n');
    expect(readTree(root, 'home/carol/.ssh/authorized_keys')).toContain('carol@laptop');
    expect(readTree(root, 'root/.ssh/authorized_keys')).toBe(`${spec.accounts.sshAuthorizedKeys[0]}\n`);
    expect(fs.statSync(path.join(root, 'root/.ssh')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(root, 'root/.ssh/authorized_keys')).mode & 0o777).toBe(0o600);
  });

  it('copies an admin who exists on the host from the host', async () => {
    const root = makeFakeTree();
    dirs.push(root);
    const spec = makeSpec();
    spec.accounts.admins = ['bob'];
    await customize(spec, root);
    expect(readTree(root, 'etc/shadow')).toContain('bob:$y$j9T$b$bobhash:');
    expect(readTree(root, 'etc/group')).toContain('sudo:x:27:bob\n');
    expect(readTree(root, 'etc/passwd')).not.toContain('alice');
  });

  it('refuses an admin name that is not a user name', async () => {
    const root = makeFakeTree();
    dirs.push(root);
    const spec = makeSpec();
    spec.accounts.admins = ['Bad:Name'];
    await expect(customize(spec, root)).rejects.toThrow(/admin name "Bad:Name"/);
  });
});

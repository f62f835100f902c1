import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customizeGuest } from '../../src/customize/customize-guest.js';
import { generatePassword, hashPassword } from '../../src/customize/password.js';
import type { CustomizeResult, GuestIds } from '../../src/customize/types.js';
import type { LogEvent } from '../../src/log/events.js';
import { runCommand } from '../../src/tools/exec.js';
import { fingerprintKey } from '../../src/tools/ssh-keygen.js';
import { extractBookwormTree } from './bookworm-tree.js';
import { makeContext, makeSpec, readTree } from '../helpers/customize-fixtures.js';

interface Guest {
  root: string;
  ids: GuestIds;
  result: CustomizeResult;
  events: LogEvent[];
}

const password = generatePassword(20);
const guests: Guest[] = [];

async function makeGuest(name: string, dhcp: boolean, useSystemctl: boolean): Promise<Guest> {
  const root = await extractBookwormTree();
  const spec = makeSpec(
    { name, hostname: `${name}.example.org` },
    dhcp ? { mode: 'dhcp', addresses: [], gateway: undefined, broadcast: undefined, nameservers: [] } : {},
  );
  spec.accounts.rootPassword = { kind: 'value', value: password };
  spec.accounts.admins = ['carol'];
  spec.accounts.sshAuthorizedKeys = [
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhlbmtpdHRlc3RrZXlmb3J0aGVjdXN0b21pemV0ZXN0 test@host',
  ];
  const ids: GuestIds = {
    rootUuid: randomUUID(),
    rootFs: 'ext4',
    swapUuid: randomUUID(),
    passwordHash: await hashPassword(password, 'sha512'),
  };
  const { ctx, events } = makeContext();
  const result = await customizeGuest(root, spec, ids, ctx, { useSystemctl });
  return { root, ids, result, events };
}

/** The guest's own systemctl, in a chroot, offline: no daemon is started. */
async function isEnabled(root: string, unit: string): Promise<string> {
  const result = await runCommand(['chroot', root, 'systemctl', 'is-enabled', unit], { allowFailure: true });
  return result.stdout.trim();
}

beforeAll(async () => {
  guests.push(await makeGuest('web1', false, true));
  guests.push(await makeGuest('web2', true, false));
});

afterAll(() => {
  for (const g of guests) fs.rmSync(g.root, { recursive: true, force: true });
});

describe('customizeGuest on a real bookworm tree', () => {
  it('writes a root hash that openssl reproduces from the password', async () => {
    for (const { root } of guests) {
      const rootLine =
        readTree(root, 'etc/shadow')
          .split('\n')
          .find((l) => l.startsWith('root:')) ?? '';
      const hash = rootLine.split(':')[1] ?? '';
      const salt = hash.split('$')[2] ?? '';
      const openssl = await runCommand(['openssl', 'passwd', '-6', '-salt', salt, '-stdin'], {
        input: `${password}\n`,
      });
      expect(openssl.stdout.trim()).toBe(hash);
      const stat = fs.statSync(path.join(root, 'etc/shadow'));
      expect(stat.mode & 0o777).toBe(0o640);
      const shadowGid = readTree(root, 'etc/group').match(/^shadow:x:(\d+):/m)?.[1];
      expect(String(stat.gid)).toBe(shadowGid);
    }
  });

  it('replaces the installed host keys with ed25519, ecdsa and rsa keys, no dsa', async () => {
    for (const { root, result } of guests) {
      const keys = fs
        .readdirSync(path.join(root, 'etc/ssh'))
        .filter((n) => n.startsWith('ssh_host_'))
        .sort();
      expect(keys).toEqual([
        'ssh_host_ecdsa_key',
        'ssh_host_ecdsa_key.pub',
        'ssh_host_ed25519_key',
        'ssh_host_ed25519_key.pub',
        'ssh_host_rsa_key',
        'ssh_host_rsa_key.pub',
      ]);
      for (const key of result.sshHostKeys) {
        const file = path.join(root, `etc/ssh/ssh_host_${key.type}_key`);
        expect((await fingerprintKey(file)).fingerprint).toBe(key.fingerprint);
        expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      }
      expect(result.sshHostKeys.map((k) => [k.type, k.bits])).toEqual([
        ['ed25519', 256],
        ['ecdsa', 256],
        ['rsa', 3072],
      ]);
    }
  });

  it('gives two guests different host keys and different random seeds', () => {
    const [a, b] = guests as [Guest, Guest];
    const prints = (g: Guest): string[] => g.result.sshHostKeys.map((k) => k.fingerprint);
    expect(prints(a).filter((p) => prints(b).includes(p))).toEqual([]);
    const seed = (g: Guest): Buffer => fs.readFileSync(path.join(g.root, 'var/lib/systemd/random-seed'));
    expect(seed(a)).toHaveLength(512);
    expect(seed(a).equals(seed(b))).toBe(false);
  });

  it('leaves machine-id empty so systemd makes a fresh one at first boot', () => {
    for (const { root } of guests) {
      expect(fs.statSync(path.join(root, 'etc/machine-id')).size).toBe(0);
      const dbus = path.join(root, 'var/lib/dbus/machine-id');
      if (fs.existsSync(path.dirname(dbus))) expect(fs.readlinkSync(dbus)).toBe('/etc/machine-id');
    }
  });

  it.each([
    ['systemctl --root', 0],
    ['direct symlinks', 1],
  ])(
    'enables networkd as the guest systemctl sees it, and leaves the hvc0/ttyS0 gettys to its getty generator (%s)',
    async (_how, index) => {
      const { root } = guests[index] as Guest;
      expect(await isEnabled(root, 'systemd-networkd.service')).toBe('enabled');
      expect(
        fs.existsSync(path.join(root, 'usr/lib/systemd/system-generators/systemd-getty-generator')),
      ).toBe(true);
      for (const unit of ['serial-getty@ttyS0.service', 'serial-getty@hvc0.service']) {
        expect(fs.existsSync(path.join(root, 'etc/systemd/system/getty.target.wants', unit)), unit).toBe(
          false,
        );
      }
    },
  );

  it('writes networkd by MAC, a static resolv.conf, fstab by UUID and apt with security and updates', () => {
    const [a, b] = guests as [Guest, Guest];
    expect(readTree(a.root, 'etc/systemd/network/10-xenkit.network')).toContain('Address=192.168.1.10/24');
    expect(readTree(b.root, 'etc/systemd/network/10-xenkit.network')).toContain('DHCP=yes');
    expect(readTree(a.root, 'etc/resolv.conf')).toContain('nameserver 192.168.1.53');
    expect(fs.lstatSync(path.join(b.root, 'etc/resolv.conf')).isFile()).toBe(true);
    expect(readTree(a.root, 'etc/fstab')).toContain(`UUID=${a.ids.rootUuid}\t/\text4`);
    expect(readTree(a.root, 'etc/fstab')).toContain(`UUID=${a.ids.swapUuid}\tnone\tswap`);
    expect(readTree(a.root, 'etc/fstab')).not.toContain('/dev/');
    const sources = readTree(a.root, 'etc/apt/sources.list');
    expect(sources).toContain('bookworm-security');
    expect(sources).toContain('bookworm-updates');
    expect(readTree(a.root, 'etc/hostname')).toBe('web1\n');
    expect(readTree(a.root, 'etc/hosts')).toContain('192.168.1.10\tweb1.example.org web1');
  });

  it("creates the admin in the sudo group and installs root's authorized_keys", () => {
    const { root } = guests[0] as Guest;
    expect(readTree(root, 'etc/passwd')).toMatch(/^carol:x:1000:1000:/m);
    expect(readTree(root, 'etc/group')).toMatch(/^sudo:x:27:carol$/m);
    expect(readTree(root, 'root/.ssh/authorized_keys')).toContain('test@host');
    expect(fs.statSync(path.join(root, 'root/.ssh')).mode & 0o777).toBe(0o700);
  });

  it('passes the password to no argv and no log event', () => {
    for (const { events } of guests) {
      const execs = events.filter((e) => e.type === 'exec');
      expect(execs.length).toBeGreaterThan(0);
      expect(JSON.stringify(events)).not.toContain(password);
    }
  });

  it('has an sshd that accepts its configuration and loads every new host key', async () => {
    const { root } = guests[0] as Guest;
    // sshd -t parses the config and loads each host key, then exits: no daemon starts. It insists on
    // its privilege separation directory, which systemd would create at boot.
    fs.mkdirSync(path.join(root, 'run/sshd'), { recursive: true });
    try {
      const result = await runCommand(['chroot', root, '/usr/sbin/sshd', '-t'], { allowFailure: true });
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    } finally {
      fs.rmSync(path.join(root, 'run/sshd'), { recursive: true });
    }
  });
});

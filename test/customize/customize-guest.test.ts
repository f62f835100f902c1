import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { customizeGuest, describeCustomize } from '../../src/customize/customize-guest.js';
import { generatePassword, hashPassword } from '../../src/customize/password.js';
import { isEnabled } from '../../src/customize/systemd-units.js';
import { TreeEditor } from '../../src/customize/tree-editor.js';
import type { GuestIds } from '../../src/customize/types.js';
import type { GuestSpec } from '../../src/model/guest-spec.js';
import {
  makeContext,
  makeFakeTree,
  makeSpec,
  readTree,
  tempDir,
  writeFiles,
} from '../helpers/customize-fixtures.js';

const IDS: GuestIds = {
  rootUuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
  rootFs: 'ext4',
  swapUuid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fakeTree(): string {
  const root = makeFakeTree();
  dirs.push(root);
  return root;
}

function hostFiles(): { hosts: string; resolvConf: string } {
  const dir = tempDir('xenkit-host-');
  dirs.push(dir);
  writeFiles(dir, {
    hosts: '127.0.0.1 localhost\n10.1.1.1 gw\n',
    'resolv.conf': 'nameserver 127.0.0.53\nnameserver 9.9.9.9\n',
  });
  return { hosts: path.join(dir, 'hosts'), resolvConf: path.join(dir, 'resolv.conf') };
}

async function run(root: string, spec: GuestSpec, ids: GuestIds = IDS) {
  const { ctx, events } = makeContext();
  const result = await customizeGuest(root, spec, ids, ctx, { host: hostFiles(), useSystemctl: false });
  return { result, events, ctx };
}

/** Every path under root with its content (or link target), for before/after comparisons. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(path.join(root, rel))) {
      const child = path.posix.join(rel, name);
      const stat = fs.lstatSync(path.join(root, child));
      if (stat.isDirectory()) walk(child);
      else
        out.set(
          `/${child}`,
          stat.isSymbolicLink()
            ? `-> ${fs.readlinkSync(path.join(root, child))}`
            : fs.readFileSync(path.join(root, child), 'latin1'),
        );
    }
  };
  walk('');
  return out;
}

describe('customizeGuest on a fake tree', () => {
  it('writes identity, network, fstab and consoles', async () => {
    const root = fakeTree();
    await run(root, makeSpec());
    expect(readTree(root, 'etc/hostname')).toBe('web1\n');
    expect(readTree(root, 'etc/mailname')).toBe('web1.example.org\n');
    expect(readTree(root, 'etc/systemd/network/10-xenkit.network')).toContain('MACAddress=00:16:3e:12:34:56');
    expect(readTree(root, 'etc/fstab')).toContain(`UUID=${IDS.rootUuid}`);
    expect(readTree(root, 'etc/resolv.conf')).toContain('nameserver 192.168.1.53');
    expect(readTree(root, 'etc/machine-id')).toBe('');
    expect(fs.readlinkSync(path.join(root, 'var/lib/dbus/machine-id'))).toBe('/etc/machine-id');
    const seed = fs.statSync(path.join(root, 'var/lib/systemd/random-seed'));
    expect(seed.size).toBe(512);
    expect(seed.mode & 0o777).toBe(0o600);
  });

  it('enables networkd, and both gettys where the guest has no getty generator, with the symlinks systemctl would make', async () => {
    const root = fakeTree();
    await run(root, makeSpec());
    const link = (rel: string): string => fs.readlinkSync(path.join(root, 'etc/systemd/system', rel));
    expect(link('multi-user.target.wants/systemd-networkd.service')).toBe(
      '/lib/systemd/system/systemd-networkd.service',
    );
    expect(link('sockets.target.wants/systemd-networkd.socket')).toBe(
      '/lib/systemd/system/systemd-networkd.socket',
    );
    expect(link('dbus-org.freedesktop.network1.service')).toBe(
      '/lib/systemd/system/systemd-networkd.service',
    );
    expect(link('getty.target.wants/serial-getty@hvc0.service')).toBe(
      '/lib/systemd/system/serial-getty@.service',
    );
    expect(link('getty.target.wants/serial-getty@ttyS0.service')).toBe(
      '/lib/systemd/system/serial-getty@.service',
    );
  });

  it('leaves units that are enabled already alone: no systemctl run on a customized tree', async () => {
    const root = fakeTree();
    await run(root, makeSpec());
    const again = makeContext();
    await customizeGuest(root, makeSpec(), IDS, again.ctx, { host: hostFiles(), useSystemctl: true });
    const ran = again.events
      .filter((e) => e.type === 'exec')
      .map((e) => (e.type === 'exec' ? e.argv[0] : ''));
    expect(ran).not.toContain('systemctl');
    expect(isEnabled(new TreeEditor(root), 'systemd-networkd.service')).toBe(true);
    fs.rmSync(path.join(root, 'etc/systemd/system/dbus-org.freedesktop.network1.service'));
    expect(isEnabled(new TreeEditor(root), 'systemd-networkd.service')).toBe(false);
  });

  it('leaves hvc0 and ttyS0 to the getty generator when the guest has it (no boot-time wait for a missing console)', async () => {
    const root = fakeTree();
    fs.mkdirSync(path.join(root, 'usr/lib/systemd/system-generators'), { recursive: true });
    fs.writeFileSync(path.join(root, 'usr/lib/systemd/system-generators/systemd-getty-generator'), '', {
      mode: 0o755,
    });
    await run(root, makeSpec());
    const wants = path.join(root, 'etc/systemd/system/getty.target.wants');
    expect(fs.existsSync(path.join(wants, 'serial-getty@hvc0.service'))).toBe(false);
    expect(fs.existsSync(path.join(wants, 'serial-getty@ttyS0.service'))).toBe(false);
  });

  it('also enables a getty on a configured serial device', async () => {
    const root = fakeTree();
    const spec = makeSpec();
    spec.boot.serialDevice = '/dev/ttyS1';
    await run(root, spec);
    expect(
      fs.existsSync(path.join(root, 'etc/systemd/system/getty.target.wants/serial-getty@ttyS1.service')),
    ).toBe(true);
  });

  it('names no /dev/xvd device and no interface anywhere it writes', async () => {
    const root = fakeTree();
    const before = snapshot(root);
    await run(root, makeSpec());
    for (const [file, content] of snapshot(root)) {
      if (before.get(file) === content) continue;
      expect(content, file).not.toMatch(/\/dev\/xvd|eth0|enX0|ens3/);
    }
  });

  it('changes only files that describeCustomize lists', async () => {
    const root = fakeTree();
    const spec = makeSpec({ copyHosts: true });
    spec.accounts.admins = ['carol'];
    spec.accounts.sshAuthorizedKeys = ['ssh-ed25519 AAAA test'];
    spec.install.aptProxy = 'http://proxy:3142';
    const ids = { ...IDS, passwordHash: '$6$salt$hash' };
    const before = snapshot(root);
    await run(root, spec, ids);
    const after = snapshot(root);
    const changed = [...after.keys()].filter((p) => before.get(p) !== after.get(p));
    const described = describeCustomize(spec, ids).flatMap((a) => ('path' in a ? [a.path] : []));
    const unitLinks = /^\/etc\/systemd\/system\/.*(\.wants\/|\.service$)/;
    const homes = /^\/home\/carol\//;
    for (const file of changed) {
      if (unitLinks.test(file) || homes.test(file)) continue;
      expect(described, file).toContain(file);
    }
  });

  it('writes the planned root hash into shadow and refuses an md5 one', async () => {
    const root = fakeTree();
    await run(root, makeSpec(), { ...IDS, passwordHash: '$6$abc$def' });
    expect(readTree(root, 'etc/shadow')).toMatch(/^root:\$6\$abc\$def:\d+:0:99999:7:::\ndaemon:\*:19000:/);
    await expect(run(fakeTree(), makeSpec(), { ...IDS, passwordHash: '$1$abc$def' })).rejects.toThrow(/md5/);
  });

  it('lets a user hook named like a built-in step replace it', async () => {
    const root = fakeTree();
    const hooks = tempDir('xenkit-hooks-');
    dirs.push(hooks);
    writeFiles(
      hooks,
      { '40-network': '#!/bin/sh\necho "ifupdown for $mac" > "$1/etc/network-by-hook"\n' },
      0o755,
    );
    const spec = makeSpec();
    spec.hooks.dirs = [hooks];
    const { events } = await run(root, spec);
    expect(fs.existsSync(path.join(root, 'etc/systemd/network/10-xenkit.network'))).toBe(false);
    expect(readTree(root, 'etc/network-by-hook')).toBe('ifupdown for 00:16:3E:12:34:56\n');
    expect(events).toContainEqual({
      type: 'info',
      message: 'customize: network (matched by MAC): replaced by a user hook',
    });
  });

  it('puts the tree back when the undo stack unwinds', async () => {
    const root = fakeTree();
    const before = snapshot(root);
    const { ctx } = await run(root, makeSpec({ copyHosts: true }), { ...IDS, passwordHash: '$6$a$b' });
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    expect(snapshot(root)).toEqual(before);
  });

  it('never lets the root password reach an event, an argv or a hook environment', async () => {
    const root = fakeTree();
    const hooks = tempDir('xenkit-hooks-');
    dirs.push(hooks);
    writeFiles(hooks, { '10-env': '#!/bin/sh\nenv\n' }, 0o755);
    const password = generatePassword(20);
    const spec = makeSpec();
    spec.accounts.rootPassword = { kind: 'value', value: password };
    spec.hooks.dirs = [hooks];
    const hash = await hashPassword(password, 'sha512');
    const { events } = await run(root, spec, { ...IDS, passwordHash: hash });
    expect(events.some((e) => e.type === 'exec')).toBe(true);
    expect(JSON.stringify(events)).not.toContain(password);
  });
});

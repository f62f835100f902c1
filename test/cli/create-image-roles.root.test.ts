/**
 * Debian's own xen-tools roles (/etc/xen-tools/role.d of the xen-tools package) in one real guest
 * build, with a user hook named like xen-tools', a skel directory, a final role and a static
 * address that goes into the host's /etc/hosts (all under a scratch root). Needs root and the
 * Debian mirror: the tree comes from the cached bookworm tarball of the other root tests (it has
 * no package lists, as every tree xenkit installs), the roles install and remove packages for real
 * (minimal removes the tarball's sudo, sudoers installs it again).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import { withMountedImage } from '../helpers/image-files.js';

const isRoot = process.getuid?.() === 0;
const DEBIAN_ROLES = '/etc/xen-tools/role.d';
const ROLES = ['minimal', 'editor', 'tmpfs', 'udev', 'sudoers'];
const NAME = 'roles1';
const HOSTS_BEFORE = '127.0.0.1\tlocalhost\n# kept as it is\n10.99.0.1 gw.example gw\n';

describe.skipIf(!isRoot || !fs.existsSync(DEBIAN_ROLES))("xen-tools' Debian roles in a real build", () => {
  let scratch: string;
  let root: string;
  let result: CliResult;
  let summary: { warnings: string[]; files: { disk: string; cfg: string } };

  const inGuest = <T>(fn: (mnt: string) => T): T => withMountedImage(summary.files.disk, fn);
  const installed = (mnt: string, pkg: string): boolean =>
    new RegExp(`^Package: ${pkg}\\nStatus: install ok installed$`, 'm').test(
      fs.readFileSync(path.join(mnt, 'var/lib/dpkg/status'), 'utf8'),
    );

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-roles-'));
    root = path.join(scratch, 'root');
    const conf = path.join(root, 'etc/xen-tools');
    fs.mkdirSync(path.join(root, 'srv/xen'), { recursive: true });
    fs.mkdirSync(conf, { recursive: true });
    fs.cpSync(DEBIAN_ROLES, path.join(conf, 'role.d'), { recursive: true });
    // A final role of ours: proves the domain config exists when final roles run.
    const cfg = path.join(root, 'etc/xen', `${NAME}.cfg`);
    fs.writeFileSync(
      path.join(conf, 'role.d/cfgcheck'),
      `#!/bin/sh\ncp ${cfg} "$1/root/cfg-at-finalrole"\n`,
      { mode: 0o755 },
    );
    // A user hook named like xen-tools' 40-setup-networking replaces the built-in network step.
    fs.mkdirSync(path.join(conf, 'hooks.d'));
    fs.writeFileSync(
      path.join(conf, 'hooks.d/40-setup-networking'),
      '#!/bin/sh\nmkdir -p "$1/etc/network"\necho "auto lo" > "$1/etc/network/interfaces.xenkit-hook"\n',
      { mode: 0o755 },
    );
    fs.mkdirSync(path.join(conf, 'skel/etc/xenkit'), { recursive: true });
    fs.writeFileSync(path.join(conf, 'skel/etc/xenkit/from-skel'), 'skel file\n', { mode: 0o640 });
    fs.writeFileSync(path.join(root, 'etc/hosts'), HOSTS_BEFORE);
    fs.writeFileSync(path.join(root, 'pw'), 'Roles-Test-Password-9\n', { mode: 0o600 });
    fs.copyFileSync(await bookwormTarball(), path.join(root, 'tree.tar'));
    result = await runBin(
      'xen-create-image',
      [
        `--hostname=${NAME}`,
        `--root=${root}`,
        '--dir=/srv/xen',
        '--size=2G',
        '--noswap',
        '--ip=10.99.0.7',
        '--netmask=24',
        '--gateway=10.99.0.1',
        '--password-file=/pw',
        '--install-method=tar',
        '--install-source=/tree.tar',
        `--role=${ROLES.join(',')}`,
        '--finalrole=cfgcheck',
        '--json',
      ],
      { timeoutMs: 1_500_000 },
    );
    if (result.code !== 0) throw new Error(`create failed (${result.code}):\n${result.stderr.slice(-3000)}`);
    summary = JSON.parse(result.stdout) as typeof summary;
  }, 1_600_000);

  afterAll(() => {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('sudoers installs sudo from the fetched lists (after minimal removed it) and copies the host sudoers, mode 0440', () => {
    const log = fs.readFileSync(path.join(root, 'var/log/xen-tools', `${NAME}.log`), 'utf8');
    expect(log.indexOf('Removing sudo')).toBeGreaterThan(-1);
    expect(log.indexOf('Setting up sudo')).toBeGreaterThan(log.indexOf('Removing sudo'));
    inGuest((mnt) => {
      expect(installed(mnt, 'sudo')).toBe(true);
      expect(fs.statSync(path.join(mnt, 'usr/bin/sudo')).mode & 0o4000).toBe(0o4000);
      expect(fs.statSync(path.join(mnt, 'etc/sudoers')).mode & 0o777).toBe(0o440);
    });
  });

  it('minimal installs busybox-syslogd and nvi, and its removals of packages bookworm lacks are summary warnings', () => {
    inGuest((mnt) => {
      expect(installed(mnt, 'busybox-syslogd')).toBe(true);
      expect(installed(mnt, 'nvi')).toBe(true);
    });
    expect(summary.warnings.some((w) => /^role "minimal": apt could not find .*klogd/.test(w))).toBe(true);
    expect(
      summary.warnings.some((w) =>
        /^role "minimal": `aptitude .*` failed in the guest \(status 127\)/.test(w),
      ),
    ).toBe(true);
  });

  it('tmpfs adds its mounts to the fstab, editor and udev run to the end', () => {
    inGuest((mnt) => {
      const fstab = fs.readFileSync(path.join(mnt, 'etc/fstab'), 'utf8');
      expect(fstab).toMatch(/^tmpfs\s+\/tmp\s+tmpfs\s+rw,nosuid,nodev 0 0$/m);
      expect(fstab).toMatch(/^UUID=\S+\t\/\t/m);
      expect(installed(mnt, 'udev')).toBe(true);
    });
    const log = fs.readFileSync(path.join(root, 'var/log/xen-tools', `${NAME}.log`), 'utf8');
    for (const role of ROLES) expect(log).toMatch(new RegExp(`role.d/${role} \\S+\\s+# exit 0`));
  });

  it('leaves no package lists, downloaded packages or daemon guard in the image', () => {
    inGuest((mnt) => {
      const lists = fs.readdirSync(path.join(mnt, 'var/lib/apt/lists'));
      expect(lists.filter((n) => !['lock', 'partial', 'auxfiles'].includes(n))).toEqual([]);
      expect(
        fs.readdirSync(path.join(mnt, 'var/cache/apt/archives')).filter((n) => n.endsWith('.deb')),
      ).toEqual([]);
      expect(fs.existsSync(path.join(mnt, 'usr/sbin/policy-rc.d'))).toBe(false);
    });
  });

  it('runs the final role once the domain config is written', () => {
    const cfg = fs.readFileSync(summary.files.cfg, 'utf8');
    inGuest((mnt) => expect(fs.readFileSync(path.join(mnt, 'root/cfg-at-finalrole'), 'utf8')).toBe(cfg));
  });

  it('copies the skel files, and lets 40-setup-networking replace the built-in network step', () => {
    inGuest((mnt) => {
      const skel = path.join(mnt, 'etc/xenkit/from-skel');
      expect(fs.readFileSync(skel, 'utf8')).toBe('skel file\n');
      expect(fs.statSync(skel).mode & 0o777).toBe(0o640);
      expect(fs.readFileSync(path.join(mnt, 'etc/network/interfaces.xenkit-hook'), 'utf8')).toBe('auto lo\n');
      expect(fs.existsSync(path.join(mnt, 'etc/systemd/network/10-xenkit.network'))).toBe(false);
    });
  });

  it("adds the guest to the host's /etc/hosts, and xen-delete-image takes out that line only", async () => {
    const hosts = path.join(root, 'etc/hosts');
    expect(fs.readFileSync(hosts, 'utf8')).toBe(
      `${HOSTS_BEFORE}10.99.0.7    ${NAME}    # xenkit guest ${NAME}\n`,
    );
    const deleted = await runBin('xen-delete-image', [`--root=${root}`, '--dir=/srv/xen', NAME]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain(`Removed from /etc/hosts: 10.99.0.7    ${NAME}`);
    expect(fs.readFileSync(hosts, 'utf8')).toBe(HOSTS_BEFORE);
  });
});

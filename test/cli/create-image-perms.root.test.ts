/**
 * What other users of the host can reach while and after xen-create-image runs, against the real
 * tools: a qcow2 guest's images and every temporary qemu-img makes are 0600 from the start, the
 * staging tree and the loop mounts of guest filesystems are out of their reach (and mounted
 * nosuid,nodev), a lock directory they made is refused; two concurrent `--ip=auto` runs get
 * different addresses, each written into its own guest; a qcow2 guest starts under `xm create`
 * and clones. The checks run as the real user nobody (setpriv). Needs root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { killQemu, qemuPids } from '../e2e/lab-guest.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import { withMountedImage } from '../helpers/image-files.js';

const isRoot = process.getuid?.() === 0;
const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--'];

/** Whether the user nobody can run `argv` successfully (e.g. read a file). */
function nobodyCan(argv: string[]): boolean {
  return spawnSync('setpriv', [...AS_NOBODY, ...argv], { stdio: 'ignore' }).status === 0;
}

function modeOf(file: string): string {
  return (fs.statSync(file).mode & 0o7777).toString(8);
}

/** The lines of a probe log that start with `tag`. */
function probeLines(file: string, tag: string): string[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `));
}

interface Summary {
  name: string;
  addresses?: string[];
  network?: { addresses?: string[] };
  files: Record<string, string>;
}

describe.skipIf(!isRoot)("xen-create-image keeps guests out of other users' reach", () => {
  let scratch: string;
  let root: string;
  let bin: string;
  let probe: string;
  const kernel = fs.existsSync('/boot')
    ? fs.readdirSync('/boot').find((n) => n.startsWith('vmlinuz-'))
    : undefined;

  const base = (name: string): string[] => [
    `--hostname=${name}`,
    `--root=${root}`,
    '--dir=/srv',
    '--size=1G',
    '--swap=64M',
    '--install-method=tar',
    '--install-source=/tree.tar',
    '--genpass=1',
    '--json',
  ];
  const create = (name: string, extra: string[] = []): Promise<CliResult> =>
    runBin('xen-create-image', [...base(name), ...extra], {
      env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
      timeoutMs: 600_000,
    });
  const guestDir = (name: string): string => path.join(root, 'srv/domains', name);

  beforeAll(async () => {
    const tarball = await bookwormTarball();
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-perms-'));
    // Open to everyone, as /srv and /etc are: only what xenkit itself does may keep nobody out.
    fs.chmodSync(scratch, 0o755);
    root = path.join(scratch, 'root');
    fs.mkdirSync(root, { mode: 0o755 });
    fs.copyFileSync(tarball, path.join(root, 'tree.tar'));
    probe = path.join(scratch, 'probe.log');
    bin = path.join(scratch, 'bin');
    fs.mkdirSync(bin);
    // qemu-img as a wrapper: the mode of what it made, the moment it exits.
    fs.writeFileSync(
      path.join(bin, 'qemu-img'),
      `#!/bin/sh
/usr/bin/qemu-img "$@"; rc=$?
case "$1" in convert|create) for last; do :; done; echo "qemu-img $1 $(stat -c %a "$last") $last" >> ${probe};; esac
exit $rc
`,
      { mode: 0o755 },
    );
    // cp as a wrapper: the mount options and reach of a guest filesystem it copies a tree into.
    fs.writeFileSync(
      path.join(bin, 'cp'),
      `#!/bin/sh
for last; do :; done
case "$last" in */xenkit-mnt-*)
  opts=$(awk -v m="$last" '$5 == m { print $6 }' /proc/self/mountinfo)
  if setpriv ${AS_NOBODY.join(' ')} ls "$last" >/dev/null 2>&1; then r=yes; else r=no; fi
  echo "mount $opts nobody-lists=$r" >> ${probe};;
esac
exec /usr/bin/cp "$@"
`,
      { mode: 0o755 },
    );
    // mount as a wrapper: every mount a run makes, with its options.
    fs.writeFileSync(
      path.join(bin, 'mount'),
      `#!/bin/sh
echo "mount-argv $*" >> ${probe}
exec /usr/bin/mount "$@"
`,
      { mode: 0o755 },
    );
    // A hook sees the staging tree while the guest is customized (its hash and keys are in it).
    const hooks = path.join(root, 'etc/xen-tools/hooks.d');
    fs.mkdirSync(hooks, { recursive: true });
    fs.writeFileSync(
      path.join(hooks, '99-probe'),
      `#!/bin/sh
if setpriv ${AS_NOBODY.join(' ')} ls "$1/etc" >/dev/null 2>&1; then r=yes; else r=no; fi
echo "staging $(stat -c %a "$(dirname "$1")") nobody-lists=$r $1" >> ${probe}
`,
      { mode: 0o755 },
    );
    if (kernel) {
      fs.mkdirSync(path.join(root, 'boot'));
      fs.copyFileSync(path.join('/boot', kernel), path.join(root, 'boot', kernel));
    }
  }, 900_000);

  afterAll(async () => {
    for (const name of ['q1', 'q1c', 'q1l']) await killQemu(name);
    const mounts = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => scratch && m.startsWith(`${scratch}/`))
      .reverse();
    for (const m of mounts) execFileSync('umount', ['-l', m]);
    // The linked clone made q1's images immutable bases.
    for (const image of ['disk.img', 'swap.img']) {
      const file = path.join(guestDir('q1'), image);
      if (fs.existsSync(file)) execFileSync('chattr', ['-i', file]);
    }
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('makes a qcow2 guest whose images, and every file qemu-img made on the way, are 0600', async () => {
    fs.rmSync(probe, { force: true });
    // The tree has no kernel of its own: the host's lets QEMU start it.
    const result = await create('q1', [
      '--dhcp',
      '--image-format=qcow2',
      ...(kernel ? [`--kernel=/boot/${kernel}`] : []),
    ]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    for (const image of ['disk.img', 'swap.img']) {
      const file = path.join(guestDir('q1'), image);
      expect(modeOf(file), image).toBe('600');
      expect(nobodyCan(['head', '-c', '1', file]), image).toBe(false);
    }
    const made = probeLines(probe, 'qemu-img');
    expect(made.length).toBeGreaterThanOrEqual(2);
    for (const line of made) expect(line.split(' ')[2], line).toBe('600');
  });

  it('keeps the staging tree out of reach of other users while it holds the guest', () => {
    const seen = probeLines(probe, 'staging');
    expect(seen).toHaveLength(1);
    const [, mode, reach] = seen[0]!.split(' ');
    expect(mode).toBe('700');
    expect(reach).toBe('nobody-lists=no');
    expect(fs.readdirSync(guestDir('q1')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('refuses a lock directory another user could write to, naming it, and touches nothing', async () => {
    const lockDir = path.join(root, 'run/xenkit/lock');
    fs.mkdirSync(lockDir, { recursive: true });
    fs.chmodSync(lockDir, 0o777);
    try {
      const result = await create('locked1', ['--dhcp']);
      expect(result.code).toBe(1);
      expect(result.stderr + result.stdout).toContain(`${lockDir} is writable by every user`);
      expect(fs.existsSync(guestDir('locked1'))).toBe(false);
      expect(fs.existsSync(path.join(root, 'etc/xen/locked1.cfg'))).toBe(false);
    } finally {
      fs.chmodSync(lockDir, 0o755);
    }
  });

  it('gives two concurrent --ip=auto runs different addresses, each the one its guest gets', async () => {
    fs.rmSync(probe, { force: true });
    fs.writeFileSync(path.join(root, 'etc/xen-tools/ips.txt'), '192.0.2.10\n192.0.2.11\n192.0.2.12\n');
    const extra = ['--ip=auto', '--netmask=255.255.255.0', '--gateway=192.0.2.1'];
    // The xfs one is filled through a loop mount, which the cp wrapper looks at.
    const [a, b] = await Promise.all([create('ip1', [...extra, '--fs=xfs']), create('ip2', extra)]);
    const shown: string[] = [];
    for (const [name, result] of [
      ['ip1', a],
      ['ip2', b],
    ] as const) {
      expect(result.code, result.stderr + result.stdout).toBe(0);
      const summary = JSON.parse(result.stdout) as Summary;
      const address = (summary.addresses ?? summary.network?.addresses ?? [])[0]?.split('/')[0];
      expect(address, result.stdout).toMatch(/^192\.0\.2\.1[0-2]$/);
      shown.push(address!);
      const network = withMountedImage(path.join(guestDir(name), 'disk.img'), (t) =>
        fs.readFileSync(path.join(t, 'etc/systemd/network/10-xenkit.network'), 'utf8'),
      );
      expect(network).toContain(`Address=${address}/24`);
      expect(fs.readFileSync(path.join(root, 'etc/xen', `${name}.cfg`), 'utf8')).toContain(`ip=${address}`);
    }
    expect(new Set(shown).size).toBe(2);
    // The xfs guest's loop mount: nosuid,nodev, and nobody cannot get into it.
    const mounts = probeLines(probe, 'mount');
    expect(mounts.length).toBeGreaterThanOrEqual(1);
    for (const line of mounts) {
      expect(line).toMatch(/\bnosuid\b/);
      expect(line).toMatch(/\bnodev\b/);
      expect(line).toContain('nobody-lists=no');
    }
  });

  it.skipIf(!kernel)(
    'starts the qcow2 guest under xm create: QEMU takes its qcow2 disk and swap',
    async () => {
      const started = await runBin('xm', ['create', 'q1', '--root', root], { timeoutMs: 120_000 });
      try {
        expect(started.code, started.stderr + started.stdout).toBe(0);
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        expect(await qemuPids('q1')).toHaveLength(1);
        const list = await runBin('xm', ['list', '--root', root]);
        expect(list.stdout).toMatch(/^q1\s/m);
      } finally {
        await runBin('xm', ['destroy', 'q1', '--root', root], { timeoutMs: 60_000 });
        await killQemu('q1');
      }
    },
  );

  it('clones the qcow2 guest, fully and linked, into 0600 images, mounting its filesystem nosuid,nodev', async () => {
    fs.rmSync(probe, { force: true });
    for (const [name, extra] of [
      ['q1c', []],
      ['q1l', ['--linked']],
    ] as const) {
      const result = await runBin('xenkit', ['clone', 'q1', name, `--root=${root}`, '--json', ...extra], {
        env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
      });
      expect(result.code, result.stderr + result.stdout).toBe(0);
      for (const image of ['disk.img', 'swap.img']) {
        const file = path.join(guestDir(name), image);
        expect(modeOf(file), `${name} ${image}`).toBe('600');
        expect(
          execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' }),
        ).toContain('"format": "qcow2"');
      }
    }
  });
});

/**
 * xenkit backup of a running QEMU guest (TCG here): a busybox guest on a Debian kernel mounts its
 * ext4 disk and, in a loop, writes a counter N raw to block 0 of its second disk (synced), then
 * to /counter on the ext4 disk (synced), and appends to a growing file. The backup is taken while
 * it runs. A copy taken at one moment holds, on the two disks, counters at most one apart; a copy
 * read disk after disk while the guest wrote would not. The guest is not paused (its counter goes
 * on during the backup); the copy's filesystem is clean once its journal is replayed (what a boot
 * does). Restored over the stopped guest, the snapshot's exports (raw pieces joined, qcow2, tar)
 * give its disks back bit for bit, and the guest boots and finds its counter. Restored again under
 * a new name, the copy has its own hostname, MAC and SSH host key and boots to its login prompt
 * beside the original. Needs root.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePaths } from '../../src/paths.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import {
  buildTestInitramfs,
  findTestKernel,
  initPreamble,
  VIRTIO_MODULES,
} from '../hypervisors/qemu/guest-fixture.js';

const isRoot = process.getuid?.() === 0;
const NAME = `bkrun${process.pid % 100000}`;
const COPY = `bkcopy${process.pid % 100000}`;
const MiB = 1024 * 1024;
const MAC = '00:16:3e:5a:01:02';

const MODULES = [
  ...VIRTIO_MODULES,
  'drivers/block/virtio_blk.ko',
  'lib/crc16.ko',
  'fs/mbcache.ko',
  'fs/jbd2/jbd2.ko',
  'crypto/crc32c_generic.ko',
  'fs/ext4/ext4.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
];

const INIT = `${initPreamble(MODULES)}mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || echo MOUNT-FAILED
hostname "$(cat /mnt/etc/hostname)"
echo "IDENTITY host=$(hostname) mac=$(cat /sys/class/net/eth0/address) key=$(md5sum < /mnt/etc/ssh/ssh_host_ed25519_key.pub | cut -c1-32)"
# The login prompt of the guest's hostname, beside the counting loop (busybox getty, as a child:
# it makes its own session).
getty -L 115200 ttyS0 vt100 &
echo "RESUMED $(cat /mnt/counter 2>/dev/null || echo none)"
# The counter is zero-padded: without its leading zeros, or the shell reads it as octal (and
# fails on an 8 or a 9).
n=$(sed 's/^0*//' /mnt/counter 2>/dev/null)
n=$((\${n:-0} + 0))
echo XENKIT-GUEST-UP
while true; do
  n=$((n + 1))
  printf '%016d\\n' $n | dd of=/dev/vdb bs=4096 count=1 conv=sync,fsync status=none
  printf '%016d\\n' $n > /mnt/counter.new
  mv /mnt/counter.new /mnt/counter
  head -c 16384 /dev/urandom >> /mnt/churn
  sync
  echo "COUNT $n"
done
`;

describe.skipIf(!isRoot)('xenkit backup of a running QEMU guest', () => {
  let scratch: string;
  let root: string;
  let disk: string;
  let data: string;
  let consoleLog: string;
  /** The counter in the copy's filesystem, its journal replayed. */
  let copied = -1;

  const run = (bin: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    runBin(bin, [...args, `--root=${root}`], { env, timeoutMs: 300_000 });
  const counts = (): number[] =>
    [...(fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, 'utf8') : '').matchAll(/COUNT (\d+)/g)].map(
      (m) => Number(m[1]),
    );
  const waitFor = async (what: string, ok: () => boolean, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) {
        const tail = fs.existsSync(consoleLog) ? fs.readFileSync(consoleLog, 'utf8').slice(-1500) : '';
        throw new Error(`${what} did not happen within ${ms} ms:\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const start = async (): Promise<void> => {
    if (fs.existsSync(consoleLog)) fs.rmSync(consoleLog);
    const r = await run('xm', ['create', NAME, '--driver=qemu']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  };
  const destroy = (): Promise<CliResult> => run('xm', ['destroy', NAME, '--driver=qemu']);

  /**
   * The restored disks hold the snapshot: each export format gives them back. Raw pieces joined
   * with the README's command, the qcow2 checked and compared by qemu-img, the tar extracted.
   */
  const exportsGiveTheDisksBack = async (): Promise<void> => {
    const sha = (file: string): string =>
      execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
    const out = (name: string): string => path.join(root, 'exp', name);
    // A killed export leaves temporaries; the next one removes them and does the job.
    const killed = await run(
      'xenkit',
      ['backup', 'export', NAME, '--format', 'raw', '--split', '100M', '--to', '/exp/split'],
      { XENKIT_FAILPOINT: 'export.disks:kill' },
    );
    expect(killed.signal).toBe('SIGKILL');
    expect(fs.readdirSync(out('split')).filter((n) => n.includes('.xenkit-export-')).length).toBe(5);
    const split = await run('xenkit', [
      'backup',
      'export',
      NAME,
      '--format',
      'raw',
      '--split',
      '100M',
      '--to',
      '/exp/split',
      '--json',
    ]);
    expect(split.code, split.stderr).toBe(0);
    const body = JSON.parse(split.stdout) as { disks: { target: string; sha256: string; pieces: number }[] };
    expect(body.disks.map((d) => d.pieces)).toEqual([3, 1]);
    expect(body.disks[0]!.sha256).toBe(sha(disk));
    execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: out('split') });
    expect(fs.readdirSync(out('split')).filter((n) => n.startsWith('disk.img'))).toEqual([
      'disk.img.000',
      'disk.img.001',
      'disk.img.002',
    ]);
    const join = /^ {2}(cat disk\.img\.\* \| dd .*)$/m.exec(
      fs.readFileSync(out('split/README'), 'utf8'),
    )?.[1];
    expect(join).toBeDefined();
    execFileSync('sh', ['-c', join!], { cwd: out('split') });
    expect(sha(out('split/disk.img'))).toBe(sha(disk));
    expect(fs.readdirSync(out('split')).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(fs.statSync(out('split/disk.img')).blocks * 512).toBeLessThan(fs.statSync(disk).size / 2);

    const qcow = await run('xenkit', ['backup', 'export', NAME, '--format', 'qcow2', '--to', '/exp/qcow2']);
    expect(qcow.code, qcow.stderr).toBe(0);
    execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: out('qcow2') });
    for (const [image, file] of [
      [disk, 'disk.qcow2'],
      [data, 'data.qcow2'],
    ] as const) {
      execFileSync('qemu-img', ['check', out(`qcow2/${file}`)], { stdio: 'pipe' });
      execFileSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', out(`qcow2/${file}`), image], {
        stdio: 'pipe',
      });
    }

    const tar = await run('xenkit', ['backup', 'export', NAME, '--format', 'tar', '--to', '/exp/tar']);
    expect(tar.code, tar.stderr).toBe(0);
    execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: out('tar') });
    const back = out('tar/back');
    fs.mkdirSync(back);
    execFileSync('tar', ['-xSf', out(`tar/${NAME}.tar`), '-C', back]);
    const inRoot = (file: string): string => path.join(back, path.relative(root, file));
    expect(sha(inRoot(disk))).toBe(sha(disk));
    expect(sha(inRoot(data))).toBe(sha(data));
    expect(fs.readFileSync(path.join(back, `etc/xen/${NAME}.cfg`), 'utf8')).toContain(`name = '${NAME}'`);
    // An export never writes over a file, and says so as bad input.
    const again = await run('xenkit', ['backup', 'export', NAME, '--format', 'tar', '--to', '/exp/tar']);
    expect(again.code).toBe(2);
    expect(fs.readdirSync(out('tar')).filter((n) => n.startsWith('.'))).toEqual([]);
  };

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-bkrun-'));
    root = path.join(scratch, 'root');
    const dir = path.join(root, 'srv/domains', NAME);
    fs.mkdirSync(dir, { recursive: true });
    fs.mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
    const { kernel, modulesDir } = await findTestKernel();
    const initrd = path.join(scratch, 'initrd.img');
    await buildTestInitramfs(modulesDir, scratch, initrd, { init: INIT, modules: MODULES });
    disk = path.join(dir, 'disk.img');
    data = path.join(dir, 'data.img');
    // A root filesystem as far as the clone code is concerned: fstab, hostname, an SSH host key.
    const tree = path.join(scratch, 'tree');
    fs.mkdirSync(path.join(tree, 'etc/ssh'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'etc/fstab'), '/dev/vda / ext4 defaults 0 1\n');
    fs.writeFileSync(path.join(tree, 'etc/hostname'), `${NAME}\n`);
    fs.writeFileSync(path.join(tree, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-f',
      path.join(tree, 'etc/ssh/ssh_host_ed25519_key'),
    ]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, disk, '256M']);
    fs.writeFileSync(data, '');
    fs.truncateSync(data, 16 * MiB);
    // The disks by their host paths, as QEMU opens them and the backup reads them.
    fs.writeFileSync(
      path.join(root, 'etc/xen', `${NAME}.cfg`),
      [
        `name = '${NAME}'`,
        'memory = 256',
        'vcpus = 1',
        `kernel = '${kernel}'`,
        `ramdisk = '${initrd}'`,
        `disk = [ 'file:${disk},xvda,w', 'file:${data},xvdb,w' ]`,
        `vif = [ 'mac=${MAC}' ]`,
        '',
      ].join('\n'),
    );
    consoleLog = path.join(makePaths(root).stateDir, 'qemu', NAME, 'console.log');
    await start();
    await waitFor('the guest counting to 5', () => counts().some((n) => n >= 5), 180_000);
  }, 300_000);

  afterAll(async () => {
    if (root) await run('xm', ['destroy', COPY, '--driver=qemu']);
    if (root) await destroy();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('backs the guest up at one moment while it keeps running; the copy is consistent across disks and fsck-clean', async () => {
    const before = Math.max(...counts());
    const r = await run('xenkit', ['backup', 'create', NAME, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const body = JSON.parse(r.stdout) as {
      snapshot: string;
      snapshots: {
        readBytes: number;
        logicalBytes: number;
        pointInTime?: { method: string; pausedMs: number; heldMs: number };
      }[];
    };
    const pit = body.snapshots[0]!.pointInTime!;
    expect(pit.method).toMatch(/blockdev-backup/);
    expect(pit.pausedMs).toBe(0);
    // The copies keep the disks' holes: the backup reads their data, not their size.
    expect(body.snapshots[0]!.readBytes).toBeLessThan(body.snapshots[0]!.logicalBytes / 2);
    // Not paused: the guest counted on during the backup, and counts on after it.
    const after = Math.max(...counts());
    expect(after).toBeGreaterThan(before);
    await waitFor('the guest counting on', () => Math.max(...counts()) > after, 60_000);
    const list = await run('xm', ['list', '--driver=qemu']);
    expect(list.stdout).toContain(NAME);
    // No copy is left beside the images.
    expect(fs.readdirSync(path.dirname(disk)).filter((n) => n.startsWith('.'))).toEqual([]);

    const exported = await run('xenkit', [
      'backup',
      'export',
      body.snapshot,
      '--format',
      'raw',
      '--to',
      '/exp',
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const copy = path.join(root, 'exp/disk.img');
    const raw = Number(fs.readFileSync(path.join(root, 'exp/data.img')).subarray(0, 16).toString());
    // Replay the journal (what mounting does at boot), then the filesystem must be clean.
    execFileSync('e2fsck', ['-E', 'journal_only', '-y', copy], { stdio: 'pipe' });
    execFileSync('e2fsck', ['-fn', copy], { stdio: 'pipe' });
    const inFs = Number(
      execFileSync('debugfs', ['-R', 'cat /counter', copy], { encoding: 'utf8', stdio: 'pipe' }),
    );
    expect(raw).toBeGreaterThanOrEqual(before);
    expect(raw).toBeLessThanOrEqual(after);
    // The guest writes the raw counter first, then the file: one moment shows them equal or one apart.
    expect(raw - inFs).toBeGreaterThanOrEqual(0);
    expect(raw - inFs).toBeLessThanOrEqual(1);
    copied = inFs;
  });

  it('restores the snapshot over the stopped guest; exports give the disks back; it boots and finds its counter', async () => {
    const manifest = JSON.parse((await run('xenkit', ['backup', 'list', NAME, '--json'])).stdout) as {
      snapshots: { id: string }[];
    };
    expect(manifest.snapshots).toHaveLength(1);
    expect((await destroy()).code).toBe(0);
    const cfg = path.join(root, 'etc/xen', `${NAME}.cfg`);
    const cfgText = fs.readFileSync(cfg, 'utf8');
    const restored = await run('xenkit', ['backup', 'restore', NAME, '--force']);
    expect(restored.code, restored.stderr).toBe(0);
    // restore writes the disks' paths as seen under --root (/srv/...), which xm create hands to QEMU
    // as they are; this guest's cfg names them by their host paths, so it goes back as it was.
    expect(fs.readFileSync(cfg, 'utf8')).toContain(`/srv/domains/${NAME}/disk.img`);
    fs.writeFileSync(cfg, cfgText);
    await exportsGiveTheDisksBack();
    await start();
    await waitFor(
      'the restored guest booting',
      () => /RESUMED \S+/.test(fs.readFileSync(consoleLog, 'utf8')),
      180_000,
    );
    const resumed = /RESUMED (\S+)/.exec(fs.readFileSync(consoleLog, 'utf8'))![1];
    // The kernel replays the journal on mount, as e2fsck did for the exported copy.
    expect(copied).toBeGreaterThan(0);
    expect(Number(resumed)).toBe(copied);
  });

  it('restores the same snapshot --as a new guest with its own hostname, MAC and host keys, which boots to its login prompt beside the original', async () => {
    const list = JSON.parse((await run('xenkit', ['backup', 'list', NAME, '--json'])).stdout) as {
      snapshots: { id: string }[];
    };
    const id = list.snapshots[0]!.id;
    const r = await run('xenkit', ['backup', 'restore', id, '--as', COPY, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const body = JSON.parse(r.stdout) as {
      name: string;
      mac: string;
      sshHostKeys: { fingerprint: string }[];
    };
    expect(body.name).toBe(COPY);
    expect(body.mac).toMatch(/^00:16:3e:/i);
    expect(body.mac.toLowerCase()).not.toBe(MAC);
    const ownKey = execFileSync(
      'ssh-keygen',
      ['-lf', path.join(scratch, 'tree/etc/ssh/ssh_host_ed25519_key.pub')],
      {
        encoding: 'utf8',
      },
    ).split(' ')[1];
    expect(body.sshHostKeys.length).toBeGreaterThan(0);
    expect(body.sshHostKeys.map((k) => k.fingerprint)).not.toContain(ownKey);
    const cfg = path.join(root, 'etc/xen', `${COPY}.cfg`);
    const cfgText = fs.readFileSync(cfg, 'utf8');
    expect(cfgText).toContain(`name = '${COPY}'`);
    expect(cfgText).toContain(`mac=${body.mac}`);
    expect(cfgText).toContain(`/srv/domains/${COPY}/disk.img`);
    // As in the scenario above: QEMU gets the cfg's paths as they are, so they name host paths.
    fs.writeFileSync(cfg, cfgText.replaceAll(':/srv/domains/', `:${root}/srv/domains/`));
    const copyLog = path.join(makePaths(root).stateDir, 'qemu', COPY, 'console.log');
    const started = await run('xm', ['create', COPY, '--driver=qemu']);
    expect(started.code, started.stderr + started.stdout).toBe(0);
    const text = (file: string): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
    const deadline = Date.now() + 180_000;
    while (!new RegExp(`${COPY} login:`).test(text(copyLog))) {
      if (Date.now() > deadline)
        throw new Error(`no login prompt of ${COPY}:\n${text(copyLog).slice(-1500)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const identity = (file: string): Record<string, string> =>
      Object.fromEntries(
        [...(/IDENTITY (.*)/.exec(text(file))?.[1] ?? '').matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]]),
      );
    const mine = identity(consoleLog);
    const its = identity(copyLog);
    expect(mine).toMatchObject({ host: NAME, mac: MAC });
    expect(its).toMatchObject({ host: COPY, mac: body.mac.toLowerCase() });
    expect(its['key']).toMatch(/^[0-9a-f]{32}$/);
    expect(its['key']).not.toBe(mine['key']);
    // The copy holds the same moment as the snapshot, and the original runs on beside it.
    expect(Number(/RESUMED (\S+)/.exec(text(copyLog))![1])).toBe(copied);
    const listed = await run('xm', ['list', '--driver=qemu']);
    expect(listed.stdout).toContain(NAME);
    expect(listed.stdout).toContain(COPY);
    const now = Math.max(...counts());
    await waitFor('the original counting on beside the copy', () => Math.max(...counts()) > now, 60_000);
  });
});

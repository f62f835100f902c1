/**
 * Kill -9 tests: create-image, resize-image and clone (full and linked) are killed with SIGKILL
 * right after each of their steps (XENKIT_FAILPOINT=STEP:kill), nothing of them unwinds, and the
 * next run of the same guest must find the dead run's leftovers, remove exactly them, and go on.
 * Each chain runs the same command again and again, killed one step later each time; the last
 * run is not killed and must succeed and leave no mount, loop device, process, journal,
 * temporary or hidden file behind. update-image killed with its policy-rc.d and resolv.conf in the
 * guest (right after mounting, and while apt runs) gets them put back; a create killed after its
 * --ip=auto claim gets the claim given back. Needs root.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bookwormTarball } from '../customize/bookworm-tree.js';
import { runBin, type CliResult } from '../helpers/cli.js';
import { withMountedImage } from '../helpers/image-files.js';

const isRoot = process.getuid?.() === 0;
const CREATE_STEPS = [
  'guest.lock',
  'install.staging',
  'install.tree',
  'customize',
  'config.domain',
  'storage.disk',
  'storage.swap',
  'install.cleanup',
  'storage.commit',
];
const CLONE_STEPS = ['clone.lock', 'clone.images', 'clone.identity', 'clone.config'];

function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
}

function listLoops(): { name: string; 'back-file': string | null }[] {
  const json = execFileSync('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE'], {
    encoding: 'utf8',
  });
  if (!json.trim()) return [];
  return (JSON.parse(json) as { loopdevices: { name: string; 'back-file': string | null }[] }).loopdevices;
}

/** Loop devices on files under `dir`, as `DEVICE FILE`. */
function loopsUnder(dir: string): string[] {
  return listLoops()
    .filter((l) => l['back-file']?.includes(dir))
    .map((l) => `${l.name} ${l['back-file']}`);
}

/** Whether loop device `entry` (`DEVICE FILE`, from loopsUnder) is still attached to a file out of reach (`/`). */
function isLoopInUse(entry: string): boolean {
  const [device] = entry.split(' ');
  return listLoops().some((l) => l.name === device && l['back-file'] === '/');
}

/** Processes whose command line or working directory names something under `dir`. */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
      if (cmdline.includes(dir) || cwd.startsWith(dir)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

/** Hidden names xenkit gives work files (`.disk.img.xenkit-new-*`, `.xenkit-tree-*`, ...). */
function hiddenUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.name.includes('.xenkit-')) out.push(full);
      else if (entry.isDirectory() && !entry.isSymbolicLink()) walk(full);
    }
  };
  walk(dir);
  return out;
}

function listOr(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

describe.skipIf(!isRoot)('after a SIGKILL at any step, the next run cleans up and succeeds', () => {
  let scratch: string;
  let root: string;
  const runs = (): string[] => listOr(path.join(root, 'var/lib/xenkit/runs'));
  const temps = (): string[] => listOr(path.join(root, 'var/lib/xenkit/tmp'));

  /** Nothing of any run is left: the state every chain must end in. */
  const expectNothingLeft = (): void => {
    expect(mountsUnder(scratch)).toEqual([]);
    expect(loopsUnder(scratch)).toEqual([]);
    expect(processesUnder(scratch)).toEqual([]);
    expect(runs()).toEqual([]);
    expect(temps()).toEqual([]);
    expect(hiddenUnder(path.join(root, 'srv'))).toEqual([]);
    expect(hiddenUnder(path.join(root, 'etc'))).toEqual([]);
  };

  /**
   * Runs `run(env)` killed after each step in turn, then once more unkilled; each run must
   * clean up after the one before it (whose pid its output names) and the last must succeed.
   */
  const killChain = async (
    steps: string[],
    run: (env: Record<string, string>) => Promise<CliResult & { pid: number }>,
  ): Promise<CliResult> => {
    let previous = 0;
    for (const step of steps) {
      const killed = await run({ XENKIT_FAILPOINT: `${step}:kill` });
      expect(killed.signal, `${step}: ${killed.stderr}`).toBe('SIGKILL');
      if (previous) expect(killed.stderr).toContain(`cleaned up after an interrupted run (pid ${previous}`);
      // Only the journal of the run just killed is left; the one before it was recovered.
      expect(runs()).toEqual([expect.stringMatching(new RegExp(`^${killed.pid}-\\d+\\.json$`))]);
      previous = killed.pid;
    }
    const last = await run({});
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).toContain(`cleaned up after an interrupted run (pid ${previous}`);
    expectNothingLeft();
    return last;
  };

  const withPid = async (
    name: string,
    args: string[],
    env: Record<string, string>,
  ): Promise<CliResult & { pid: number }> => {
    let pid = 0;
    const result = await runBin(name, args, { env, timeoutMs: 300_000, onSpawn: (p) => (pid = p) });
    return { ...result, pid };
  };

  const createArgs = (name: string): string[] => [
    `--hostname=${name}`,
    `--root=${root}`,
    '--dir=/srv',
    '--dhcp',
    '--size=1G',
    '--swap=64M',
    '--install-method=tar',
    '--install-source=/tree.tar',
    '--genpass=1',
  ];

  beforeAll(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-kill-'));
    root = path.join(scratch, 'root');
    fs.mkdirSync(root);
    fs.copyFileSync(await bookwormTarball(), path.join(root, 'tree.tar'));
  }, 900_000);

  afterAll(() => {
    for (const m of mountsUnder(scratch).reverse()) execFileSync('umount', ['-l', m]);
    for (const l of loopsUnder(scratch)) execFileSync('losetup', ['-d', l.split(' ')[0] ?? '']);
    if (scratch) {
      execFileSync('chattr', ['-R', '-i', scratch], { stdio: 'ignore' });
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('create-image: killed after each step, the next create succeeds', async () => {
    await killChain(CREATE_STEPS, (env) => withPid('xen-create-image', createArgs('k1'), env));
    expect(fs.readdirSync(path.join(root, 'srv/domains/k1')).sort()).toEqual(['disk.img', 'swap.img']);
    expect(fs.existsSync(path.join(root, 'etc/xen/k1.cfg'))).toBe(true);
  }, 600_000);

  it('create-image --staging=memory: killed with its tree in the tmpfs, the next run unmounts it and succeeds', async () => {
    const args = [...createArgs('k3'), '--staging=memory'];
    const killed = await withPid('xen-create-image', args, { XENKIT_FAILPOINT: 'customize:kill' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const tmpfs = mountsUnder(scratch).filter((m) => /\/\.xenkit-tree-k3-[0-9a-f]{8}\/mem$/.test(m));
    expect(tmpfs).toHaveLength(1);
    const type = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === tmpfs[0]);
    expect(type).toMatch(/ - tmpfs xenkit-staging rw,.*size=1572864k,mode=700/);
    const last = await withPid('xen-create-image', args, {});
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).toContain(`cleaned up after an interrupted run (pid ${killed.pid}`);
    expectNothingLeft();
    expect(fs.readdirSync(path.join(root, 'srv/domains/k3')).sort()).toEqual(['disk.img', 'swap.img']);
  }, 600_000);

  it('create-image --force killed after it moved the new images in leaves the old guest as it was', async () => {
    const files = ['srv/domains/k1/disk.img', 'srv/domains/k1/swap.img', 'etc/xen/k1.cfg'].map((f) =>
      path.join(root, f),
    );
    const before = files.map((f) => `${fs.statSync(f).ino}:${fs.statSync(f).mtimeMs}`);
    const killed = await withPid('xen-create-image', [...createArgs('k1'), '--force', '--quiet'], {
      XENKIT_FAILPOINT: 'storage.commit:kill',
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(hiddenUnder(path.join(root, 'srv')).some((f) => f.includes('.xenkit-old-'))).toBe(true);
    const doctor = await runBin('xenkit', ['doctor', `--root=${root}`, '--json']);
    expect(doctor.code, doctor.stderr).toBe(0);
    const report = JSON.parse(doctor.stdout) as { runs: { pid: number; cleaned: string[] }[] };
    expect(report.runs[0]?.pid).toBe(killed.pid);
    expect(report.runs[0]?.cleaned.join('\n')).toContain('put the old');
    expect(files.map((f) => `${fs.statSync(f).ino}:${fs.statSync(f).mtimeMs}`)).toEqual(before);
    expectNothingLeft();
    const again = await runBin('xenkit', ['doctor', `--root=${root}`]);
    expect(again.stdout).toContain('nothing to clean up');
  }, 300_000);

  /** policy-rc.d and resolv.conf in k1's filesystem: absent, a symlink's target, or mode, owner and text. */
  const guestFilesOf = (): string[] =>
    withMountedImage(path.join(root, 'srv/domains/k1/disk.img'), (tree) =>
      ['usr/sbin/policy-rc.d', 'etc/resolv.conf'].map((name) => {
        const file = path.join(tree, name);
        const st = fs.lstatSync(file, { throwIfNoEntry: false });
        if (!st) return `${name}: absent`;
        if (st.isSymbolicLink()) return `${name} -> ${fs.readlinkSync(file)}`;
        const mode = (st.mode & 0o7777).toString(8);
        return `${name}: ${mode} ${st.uid}:${st.gid} ${fs.readFileSync(file, 'utf8')}`;
      }),
    );

  it('update-image killed with its policy-rc.d and resolv.conf in the guest: doctor puts them back', async () => {
    const before = guestFilesOf();
    expect(before[0]).toBe('usr/sbin/policy-rc.d: absent');
    const killed = await withPid('xen-update-image', ['k1', `--root=${root}`], {
      XENKIT_FAILPOINT: 'update.mount:kill',
    });
    expect(killed.signal).toBe('SIGKILL');
    // Left mounted, with xenkit's policy-rc.d in the guest.
    const trees = mountsUnder(scratch).filter((m) => fs.existsSync(path.join(m, 'usr/sbin/policy-rc.d')));
    expect(trees).toHaveLength(1);
    const doctor = await runBin('xenkit', ['doctor', `--root=${root}`]);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toContain(
      `cleaned up after an interrupted run (pid ${killed.pid}, update-image k1)`,
    );
    expect(doctor.stdout).toContain('removed /usr/sbin/policy-rc.d');
    expectNothingLeft();
    expect(guestFilesOf()).toEqual(before);
  }, 300_000);

  it('update-image killed while apt runs: the next command for the guest puts the guest files back', async () => {
    const before = guestFilesOf();
    let pid = 0;
    // In a network namespace of its own whose one route leads into a bridge with no ports: apt's
    // DNS queries vanish there and it waits on them for seconds, so the kill comes while it runs.
    // (With no network at all apt failed at once, and in one CI run it had ended before the kill.)
    const blackhole =
      'ip link add xk0 type bridge && ip link set xk0 up && ip addr add 192.0.2.1/24 dev xk0 && ' +
      'ip route add default dev xk0 && exec "$@"';
    const pending = runBin('xen-update-image', ['k1', `--root=${root}`], {
      wrapper: ['unshare', '--net', '--', 'sh', '-c', blackhole, 'sh'],
      timeoutMs: 300_000,
      onSpawn: (p) => (pid = p),
    });
    const isAptRunning = (): boolean => processesUnder(scratch).some((p) => p.includes('apt-get'));
    const deadline = Date.now() + 120_000;
    let sawApt = isAptRunning();
    while (!sawApt && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
      sawApt = isAptRunning();
    }
    // Killed whatever was seen: an update left running would hold the guest for the next tests.
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already: the expectations below say so.
    }
    const killed = await pending;
    expect(sawApt).toBe(true);
    expect(killed.signal).toBe('SIGKILL');
    const next = await runBin('xenkit', ['resize-image', 'k1', '--swap=96M', `--root=${root}`]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(`cleaned up after an interrupted run (pid ${pid}, update-image k1)`);
    expect(next.stderr).toContain('removed /usr/sbin/policy-rc.d');
    expectNothingLeft();
    expect(guestFilesOf()).toEqual(before);
  }, 300_000);

  it('resize-image: killed after each step, the next resize succeeds and the filesystem is whole', async () => {
    const resize = (size: string) => (env: Record<string, string>) =>
      withPid('xenkit', ['resize-image', 'k1', `--size=${size}`, '--swap=128M', `--root=${root}`], env);
    // Killed after resize.disk the disk has grown for good: the chain goes on with a larger size.
    let previous = await resize('2G')({ XENKIT_FAILPOINT: 'resize.lock:kill' });
    expect(previous.signal).toBe('SIGKILL');
    const afterDisk = await resize('2G')({ XENKIT_FAILPOINT: 'resize.disk:kill' });
    expect(afterDisk.signal).toBe('SIGKILL');
    expect(afterDisk.stderr).toContain(`cleaned up after an interrupted run (pid ${previous.pid}`);
    previous = afterDisk;
    const afterSwap = await resize('3G')({ XENKIT_FAILPOINT: 'resize.swap:kill' });
    expect(afterSwap.signal).toBe('SIGKILL');
    expect(afterSwap.stderr).toContain(`cleaned up after an interrupted run (pid ${previous.pid}`);
    const last = await runBin('xenkit', ['resize-image', 'k1', '--size=4G', `--root=${root}`]);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stderr).toContain(`cleaned up after an interrupted run (pid ${afterSwap.pid}`);
    expectNothingLeft();
    const disk = path.join(root, 'srv/domains/k1/disk.img');
    expect(fs.statSync(disk).size).toBe(4 * 1024 ** 3);
    expect(fs.statSync(path.join(root, 'srv/domains/k1/swap.img')).size).toBe(128 * 1024 ** 2);
    execFileSync('e2fsck', ['-f', '-n', disk], { stdio: 'ignore' });
  }, 300_000);

  it('create-image --ip=auto killed after its claim: doctor gives back that claim, and no other', async () => {
    fs.mkdirSync(path.join(root, 'etc/xen-tools'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/xen-tools/ips.txt'), '192.0.2.10\n192.0.2.11\n');
    const used = path.join(root, 'var/lib/xenkit/ips.used');
    fs.writeFileSync(used, '192.0.2.11 other\n', { mode: 0o600 });
    const args = [
      ...createArgs('k2').filter((a) => a !== '--dhcp'),
      '--ip=auto',
      '--netmask=255.255.255.0',
      '--gateway=192.0.2.1',
    ];
    const killed = await withPid('xen-create-image', args, { XENKIT_FAILPOINT: 'guest.lock:kill' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(fs.readFileSync(used, 'utf8')).toBe('192.0.2.11 other\n192.0.2.10 k2\n');
    const doctor = await runBin('xenkit', ['doctor', `--root=${root}`]);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toContain('gave back the address 192.0.2.10 of k2');
    expect(fs.readFileSync(used, 'utf8')).toBe('192.0.2.11 other\n');
    expectNothingLeft();
  }, 300_000);

  it.each([
    ['as soon as the daemon starts', false],
    ['while the daemon serves its overlays', true],
  ])(
    'a linked clone killed %s: no daemon outlives it, the next run cleans up',
    async (_when, isServing) => {
      let pid = 0;
      const pending = runBin('xenkit', ['clone', 'k1', 'mid1', '--linked', `--root=${root}`], {
        timeoutMs: 300_000,
        onSpawn: (p) => (pid = p),
      });
      const daemons = (): string[] =>
        processesUnder(scratch).filter(
          (p) => p.includes('qemu-storage-daemon') && p.includes('xenkit-export-'),
        );
      const exports = (): string[] => mountsUnder(scratch).filter((m) => m.includes('xenkit-export-'));
      const isTime = (): boolean => (isServing ? exports().length > 0 : daemons().length > 0);
      const deadline = Date.now() + 60_000;
      while (!isTime() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      // The loop devices on the export: once the daemon is gone, losetup shows their backing file as `/`.
      const exportLoops = loopsUnder(scratch).filter((l) => l.includes('xenkit-export-'));
      process.kill(pid, 'SIGKILL');
      expect((await pending).signal).toBe('SIGKILL');
      if (isServing) {
        // The daemon does not outlive its run (the kernel stops it), nor does its FUSE export.
        const deadline = Date.now() + 15_000;
        while (daemons().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(daemons()).toEqual([]);
        expect(exports()).toEqual([]);
      }
      const next = await runBin('xenkit', ['clone', 'k1', 'mid1', '--linked', `--root=${root}`]);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stderr).toContain(`cleaned up after an interrupted run (pid ${pid}, clone k1 mid1)`);
      expectNothingLeft();
      expect(exportLoops.filter((device) => isLoopInUse(device))).toEqual([]);
      const removed = await runBin('xenkit', ['delete-image', 'mid1', `--root=${root}`]);
      expect(removed.code, removed.stderr).toBe(0);
    },
    300_000,
  );

  it.each([
    ['full', []],
    ['linked', ['--linked']],
  ])(
    'clone (%s): killed after each step, the next clone succeeds',
    async (mode, extra) => {
      const name = `c${mode}`;
      const steps = mode === 'linked' ? [...CLONE_STEPS, 'clone.base'] : CLONE_STEPS;
      const source = path.join(root, 'srv/domains/k1/disk.img');
      const sourceMode = fs.statSync(source).mode & 0o777;
      const sourceCfg = fs.readFileSync(path.join(root, 'etc/xen/k1.cfg'), 'utf8');
      // A killed linked clone left the base read-only and immutable: the next one must undo that.
      await killChain(steps, (env) =>
        withPid('xenkit', ['clone', 'k1', name, ...(extra as string[]), `--root=${root}`], env),
      );
      expect(fs.readdirSync(path.join(root, 'srv/domains', name)).sort()).toEqual(['disk.img', 'swap.img']);
      if (mode === 'full') {
        expect(fs.statSync(source).mode & 0o777).toBe(sourceMode);
        expect(fs.readFileSync(path.join(root, 'etc/xen/k1.cfg'), 'utf8')).toBe(sourceCfg);
      } else {
        expect(fs.statSync(source).mode & 0o777).toBe(0o400);
      }
    },
    300_000,
  );
});

/**
 * Several hosts for real, started once for every scenario: this machine's libvirt
 * (qemu:///system) and two libvirtds in network namespaces of the test's (h1, h2: see
 * test/helpers/libvirt-hosts.ts), each with its own /var/lib/libvirt. A guest started by xenkit here
 * moves live to h1 (shared storage); `xen-create-image --host h1` builds a second guest here and
 * creates it in h1's storage pool, where it boots; that one moves live to h2, which does not see
 * h1's pool, with its disk copied along; then h2's daemon is killed in the middle of a migration
 * and under `xm list --all-hosts`. The guests are the small busybox guest of the QEMU driver
 * tests: its console loop (the "session") answers `run CMD`, so the test reads its uptime before
 * and after, through `xm console` on each host. Bad targets fail with exit 2 and the guest still
 * running where it was.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePaths } from '../../../src/paths.js';
import { REPO, runBin, type CliResult } from '../../helpers/cli.js';
import { tcgCacheKiB } from '../../helpers/qemu-proc.js';
import { ensureLibvirtd, waitFor, type LibvirtDaemons } from '../../helpers/libvirtd.js';
import { libvirtHostsMissing, startLibvirtHosts, type LibvirtHosts } from '../../helpers/libvirt-hosts.js';
import { buildTestInitramfs, findTestKernel, GUEST_MARKER } from '../qemu/guest-fixture.js';

const NAME = `xkmig${process.pid}`;
/** The guest xen-create-image --host makes on h1. */
const BUILT = `xkrc${process.pid}`;
const LOCAL = 'qemu:///system';
const missing = libvirtHostsMissing();

let work: string;
let root: string;
let daemons: LibvirtDaemons | undefined;
let bed: LibvirtHosts | undefined;
let remote: string;

function xm(args: string[], uri = LOCAL): Promise<CliResult> {
  return runBin('xm', [...args, '--root', root, '--connect', uri], {
    env: { XENKIT_DRIVER: 'libvirt' },
    timeoutMs: 300_000,
  });
}

/**
 * Attaches `xm console` on `uri`, waits for `ready` (if given), types `line`, waits until the
 * output matches `want`, detaches with Ctrl-]. Returns everything the console printed.
 */
function consoleExchange(
  uri: string,
  line: string | undefined,
  want: RegExp,
  timeoutMs = 120_000,
): Promise<string> {
  return consoleOf(NAME, uri, line, want, timeoutMs);
}

function consoleOf(
  name: string,
  uri: string,
  line: string | undefined,
  want: RegExp,
  timeoutMs = 120_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO, 'bin', 'xm.js'), 'console', name, '--root', root, '--connect', uri],
      { env: { ...process.env, XENKIT_DRIVER: 'libvirt' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let done = false;
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearInterval(typer);
      clearTimeout(timer);
      child.stdin.write('\x1d');
      setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      if (error) reject(error);
      else resolve(out);
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (want.test(out)) finish();
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // The loop reads a line a second; type again until it answers (the first may be lost while virsh attaches).
    const typer = setInterval(() => {
      if (line !== undefined) child.stdin.write(`${line}\r`);
    }, 3000);
    const timer = setTimeout(
      () => finish(new Error(`console on ${uri} never showed ${want}; it showed:\n${out.slice(-1500)}`)),
      timeoutMs,
    );
    child.on('close', () => {
      if (!done)
        finish(want.test(out) ? undefined : new Error(`xm console ended early:\n${out.slice(-1500)}`));
    });
  });
}

async function guestUptime(uri: string, name = NAME): Promise<number> {
  const text = await consoleOf(name, uri, 'run cat /proc/uptime', /(\d+\.\d+) \d+\.\d+\s*\r?\nRUN-DONE 0/);
  const m = /(\d+\.\d+) \d+\.\d+\s*\r?\nRUN-DONE 0/.exec(text);
  return Number(m?.[1]);
}

describe.skipIf(missing !== undefined)('xm migrate between libvirt hosts', () => {
  beforeAll(async () => {
    daemons = await ensureLibvirtd();
    bed = startLibvirtHosts(2, { linkRoot: true });
    remote = bed.hosts[0]!.uri;
    // Each host's "default" pool: its own /var/lib/libvirt/images (h2 does not see h1's).
    for (const host of bed.hosts) {
      for (const args of [
        ['pool-define-as', 'default', 'dir', '--target', '/var/lib/libvirt/images'],
        ['pool-start', 'default'],
      ]) {
        const r = host.virsh(...args);
        if (r.status !== 0) throw new Error(`${host.name}: virsh ${args.join(' ')}: ${r.stderr}`);
      }
    }
    // Under /var/lib: libvirt's QEMU (user libvirt-qemu) must read the kernel and initramfs.
    work = mkdtempSync('/var/lib/xenkit-migrate-test-');
    chmodSync(work, 0o755);
    root = path.join(work, 'root');
    mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
    const { kernel, modulesDir } = await findTestKernel();
    const initrd = path.join(work, 'initrd.img');
    await buildTestInitramfs(modulesDir, path.join(work, 'build'), initrd);
    chmodSync(initrd, 0o644);
    // xen-create-image --kernel/--initrd name files under the root.
    mkdirSync(path.join(root, 'boot'));
    copyFileSync(kernel, path.join(root, 'boot/vmlinuz'));
    copyFileSync(initrd, path.join(root, 'boot/initrd.img'));
    // A disk on the storage both hosts share: the migration finds it there and copies none.
    const disk = path.join(work, 'shared-disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 16 * 1024 * 1024);
    writeFileSync(
      path.join(root, 'etc/xen', `${NAME}.cfg`),
      `name = '${NAME}'\nkernel = '${kernel}'\nramdisk = '${initrd}'\nmemory = 256\nvcpus = 1\nextra = 'console=ttyS0'\n` +
        `disk = ['file:${disk},xvda,w']\nxenkit_tcg_cache = 48\n`,
    );
  }, 300_000);

  afterAll(async () => {
    // The remote host's guests end with its namespace; this host's copy (if the migration failed) here.
    for (const uri of [LOCAL]) {
      for (const verb of ['destroy', 'undefine']) {
        await new Promise((resolve) =>
          spawn('virsh', ['--connect', uri, verb, NAME], { stdio: 'ignore' }).on('close', resolve),
        );
      }
    }
    bed?.stop();
    await daemons?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('starts the guest through the libvirt driver and reads its uptime on the console', async () => {
    const created = await xm(['create', `${NAME}.cfg`]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const boot = await consoleExchange(LOCAL, 'status', /STATUS cpus=1/, 180_000);
    expect(boot).toMatch(/STATUS cpus=1/);
    expect(await guestUptime(LOCAL)).toBeGreaterThan(0);
    // xenkit_tcg_cache reached libvirt's <tcg><tb-cache> and its QEMU: a 48 MiB code buffer
    // (less its guard page) instead of QEMU's 1 GiB.
    const xml = spawnSync('virsh', ['--connect', LOCAL, 'dumpxml', NAME], { encoding: 'utf8' }).stdout;
    expect(xml).toMatch(/<tb-cache unit='KiB'>49152<\/tb-cache>/);
    const pid = Number(readFileSync(`/run/libvirt/qemu/${NAME}.pid`, 'utf8').trim());
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')).toMatch(
      /-accel tcg\S*tb-size=48/,
    );
    expect(tcgCacheKiB(pid)).toBeGreaterThan(47 * 1024);
    expect(tcgCacheKiB(pid)).toBeLessThanOrEqual(48 * 1024);
  }, 300_000);

  it('refuses an unreachable host and an unknown host name (exit 2), the guest still running here', async () => {
    const unreachable = await xm(['migrate', NAME, 'qemu+tcp://10.77.250.99/system', '--live']);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/10\.77\.250\.99/);
    const unknown = await xm(['migrate', NAME, 'nosuchhost']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no host "nosuchhost"/);
    const same = await xm(['migrate', NAME, LOCAL]);
    expect(same.code).toBe(2);
    const list = await xm(['list', '--json']);
    expect(JSON.parse(list.stdout).map((d: { name: string }) => d.name)).toContain(NAME);
  }, 300_000);

  it('migrates it live: it runs on the other host, its session and uptime go on, downtime reported', async () => {
    const before = await guestUptime(LOCAL);
    const moved = await xm(['migrate', NAME, remote, '--live', '--json'], LOCAL);
    expect(moved.stderr).toBe('');
    expect(moved.code, moved.stdout).toBe(0);
    const report = JSON.parse(moved.stdout) as {
      live: boolean;
      downtimeMs?: number;
      elapsedMs?: number;
      to: string;
    };
    expect(report).toMatchObject({ ok: true, live: true, to: remote, copiedDisks: [], uploadedFiles: [] });
    expect(report.downtimeMs).toBeGreaterThan(0);
    console.log(`live migration: downtime ${report.downtimeMs} ms, total ${report.elapsedMs} ms`);

    const here = JSON.parse((await xm(['list', '--json'])).stdout) as { name: string }[];
    expect(here.map((d) => d.name)).not.toContain(NAME);
    const there = JSON.parse((await xm(['list', '--json'], remote)).stdout) as { name: string }[];
    expect(there.map((d) => d.name)).toContain(NAME);

    // The same console loop answers there (no new boot marker), and the clock went on.
    const text = await consoleExchange(remote, 'run cat /proc/uptime', /RUN-DONE 0/);
    expect(text).not.toContain(GUEST_MARKER);
    const after = await guestUptime(remote);
    expect(after).toBeGreaterThan(before);
  }, 300_000);

  it("creates a guest on host h1: built here, its image uploaded into h1's pool, defined there, and it boots there", async () => {
    const hosts = (...args: string[]) => runBin('xenkit', ['hosts', ...args, '--root', root]);
    for (const host of bed!.hosts) expect((await hosts('add', host.name, host.uri)).code).toBe(0);
    const args = [
      `--root=${root}`,
      `--hostname=${BUILT}`,
      '--host=h1',
      '--install=0',
      '--kernel=/boot/vmlinuz',
      '--initrd=/boot/initrd.img',
      '--size=128M',
      '--noswap',
      '--dhcp',
      '--memory=256M',
      '--dir=/srv/xen',
    ];
    const dry = await runBin('xen-create-image', [...args, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`vol-upload --sparse --pool default ${BUILT}-disk.img`);
    expect(dry.stdout).toMatch(new RegExp(`virsh --connect ${remote.replaceAll('+', '\\+')} define`));

    const started = Date.now();
    const made = await runBin('xen-create-image', args, { timeoutMs: 300_000 });
    const took = Date.now() - started;
    expect(made.code, made.stderr + made.stdout).toBe(0);
    const h1 = bed!.hosts[0]!;
    const volumes = h1.virsh('vol-list', '--pool', 'default').stdout;
    for (const volume of [`${BUILT}-disk.img`, `${BUILT}-vmlinuz`, `${BUILT}-initrd.img`])
      expect(volumes).toContain(volume);
    const info = h1.virsh('vol-info', '--pool', 'default', `${BUILT}-disk.img`, '--bytes').stdout;
    const log = readFileSync(path.join(root, 'var/log/xen-tools', `${BUILT}.log`), 'utf8');
    console.log(
      `remote create: ${took} ms in all; ${[...log.matchAll(/uploaded [^\n]*/g)].map((m) => m[0]).join('; ')}; upload step ${/remote\.upload[^\n]*ok[^\n]*/.exec(log)?.[0] ?? ''}`,
    );
    expect(info).toMatch(/Capacity:\s+134217728 bytes/);
    expect(h1.virsh('domstate', BUILT).stdout.trim()).toBe('shut off');
    expect(h1.virsh('dumpxml', BUILT).stdout).toContain(`/var/lib/libvirt/images/${BUILT}-disk.img`);
    // Nothing of it stays here: no staging, no cfg, no domain.
    const staging = path.join(makePaths(root).cacheDir, 'remote-staging');
    expect(existsSync(staging) ? readdirSync(staging) : []).toEqual([]);
    expect(existsSync(path.join(root, 'etc/xen', `${BUILT}.cfg`))).toBe(false);

    expect(h1.virsh('start', BUILT).status).toBe(0);
    const boot = await consoleOf(BUILT, remote, 'status', /STATUS cpus=1/, 180_000);
    expect(boot).toMatch(/STATUS cpus=1/);
  }, 400_000);

  it('refuses a guest h1 has already (exit 2, nothing there touched) and undoes both sides when a later step fails', async () => {
    const h1 = bed!.hosts[0]!;
    const base = [
      `--root=${root}`,
      '--host=h1',
      '--install=0',
      '--kernel=/boot/vmlinuz',
      '--initrd=/boot/initrd.img',
      '--size=64M',
      '--noswap',
      '--dhcp',
      '--dir=/srv/xen',
    ];
    const again = await runBin('xen-create-image', [...base, `--hostname=${BUILT}`]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(new RegExp(`host "h1" .* has a domain "${BUILT}" already`));
    expect(h1.virsh('domstate', BUILT).stdout.trim()).toBe('running');

    const other = `${BUILT}x`;
    const failed = await runBin('xen-create-image', [...base, `--hostname=${other}`], {
      env: { XENKIT_FAILPOINT: 'remote.define' },
    });
    expect(failed.code).toBe(1);
    expect(h1.virsh('domstate', other).status).not.toBe(0);
    expect(h1.virsh('vol-list', '--pool', 'default').stdout).not.toContain(`${other}-`);
    const staging = path.join(makePaths(root).cacheDir, 'remote-staging');
    expect(existsSync(staging) ? readdirSync(staging) : []).toEqual([]);
  }, 300_000);

  it("migrates that guest live to h2, which does not see h1's pool: its disk is copied along, its session goes on", async () => {
    const h2 = bed!.hosts[1]!;
    const before = await guestUptime(remote, BUILT);
    const moved = await xm(['migrate', BUILT, 'h2', '--live', '--json'], remote);
    expect(moved.code, moved.stderr).toBe(0);
    const report = JSON.parse(moved.stdout) as {
      downtimeMs?: number;
      elapsedMs?: number;
      copiedDisks: string[];
      uploadedFiles: string[];
    };
    expect(report.copiedDisks).toEqual([`/var/lib/libvirt/images/${BUILT}-disk.img`]);
    expect(report.uploadedFiles).toHaveLength(2);
    console.log(
      `storage-copy live migration: downtime ${report.downtimeMs} ms, total ${report.elapsedMs} ms`,
    );
    expect(h2.virsh('domstate', BUILT).stdout.trim()).toBe('running');
    expect(bed!.hosts[0]!.virsh('domstate', BUILT).status).not.toBe(0);
    const after = await guestUptime(h2.uri, BUILT);
    expect(after).toBeGreaterThan(before);
    // The text form says so.
    expect(h2.virsh('vol-list', '--pool', 'default').stdout).toContain(`${BUILT}-disk.img`);
  }, 400_000);

  it('names h2 when its daemon dies in the middle of a migration, and the guest runs on where it was; list --all-hosts goes on without it', async () => {
    const h2 = bed!.hosts[1]!;
    const pid = Number(readFileSync(path.join(h2.stateDir, 'libvirtd.pid'), 'utf8').trim());
    const moving = xm(['migrate', NAME, 'h2', '--live'], remote);
    // The memory copy of a 256 MiB TCG guest takes seconds: kill the destination's daemon once it runs.
    const h1 = bed!.hosts[0]!;
    await waitFor(
      'the migration job',
      () => /Job type:\s+Unbounded/.test(h1.virsh('domjobinfo', NAME).stdout),
      60_000,
    );
    process.kill(pid, 'SIGKILL');
    const failed = await moving;
    console.log(`migrate with the destination killed: exit ${failed.code}: ${failed.stderr}`);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      new RegExp(
        `migrating "${NAME}" to "h2" \\(${h2.uri.replaceAll('+', '\\+')}\\) failed: host "h2" stopped answering .*the guest still runs on`,
      ),
    );
    expect(bed!.hosts[0]!.virsh('domstate', NAME).stdout.trim()).toBe('running');
    const all = await runBin('xm', ['list', '--all-hosts', '--root', root], {
      env: { XENKIT_DRIVER: 'libvirt' },
    });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(new RegExp(`^h2 +\\(not answering: .*${h2.address}`, 'm'));
    expect(all.stdout).toMatch(new RegExp(`^h1 +${NAME} +\\d+ `, 'm'));
  }, 300_000);
});

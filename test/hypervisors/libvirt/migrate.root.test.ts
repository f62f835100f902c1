/**
 * `xm migrate` for real: a guest started by xenkit on this machine's libvirt (qemu:///system) moves
 * live to a second libvirt host, a libvirtd in a network namespace of the test's (see
 * test/helpers/libvirt-hosts.ts), over a veth pair. The guest is the small busybox guest of the
 * QEMU driver tests: its console loop (the "session") answers `run CMD`, so the test reads its
 * uptime before and after, through `xm console` on each host. Bad targets fail with exit 2 and the
 * guest still running where it was.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runBin, type CliResult } from '../../helpers/cli.js';
import { ensureLibvirtd, type LibvirtDaemons } from '../../helpers/libvirtd.js';
import { libvirtHostsMissing, startLibvirtHosts, type LibvirtHosts } from '../../helpers/libvirt-hosts.js';
import { buildTestInitramfs, findTestKernel, GUEST_MARKER } from '../qemu/guest-fixture.js';

const NAME = `xkmig${process.pid}`;
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
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(REPO, 'bin', 'xm.js'), 'console', NAME, '--root', root, '--connect', uri],
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

async function guestUptime(uri: string): Promise<number> {
  const text = await consoleExchange(uri, 'run cat /proc/uptime', /(\d+\.\d+) \d+\.\d+\s*\r?\nRUN-DONE 0/);
  const m = /(\d+\.\d+) \d+\.\d+\s*\r?\nRUN-DONE 0/.exec(text);
  return Number(m?.[1]);
}

describe.skipIf(missing !== undefined)('xm migrate between libvirt hosts', () => {
  beforeAll(async () => {
    daemons = await ensureLibvirtd();
    bed = startLibvirtHosts(1, { linkRoot: true });
    remote = bed.hosts[0]!.uri;
    // Under /var/lib: libvirt's QEMU (user libvirt-qemu) must read the kernel and initramfs.
    work = mkdtempSync('/var/lib/xenkit-migrate-test-');
    chmodSync(work, 0o755);
    root = path.join(work, 'root');
    mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
    const { kernel, modulesDir } = await findTestKernel();
    const initrd = path.join(work, 'initrd.img');
    await buildTestInitramfs(modulesDir, path.join(work, 'build'), initrd);
    chmodSync(initrd, 0o644);
    writeFileSync(
      path.join(root, 'etc/xen', `${NAME}.cfg`),
      `name = '${NAME}'\nkernel = '${kernel}'\nramdisk = '${initrd}'\nmemory = 256\nvcpus = 1\nextra = 'console=ttyS0'\n`,
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
    expect(moved.code).toBe(0);
    const report = JSON.parse(moved.stdout) as {
      live: boolean;
      downtimeMs?: number;
      elapsedMs?: number;
      to: string;
    };
    expect(report).toMatchObject({ ok: true, live: true, to: remote });
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
});

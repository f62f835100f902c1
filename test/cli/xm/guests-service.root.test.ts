/**
 * The boot-time service (systemd/xenkit-guests.service), for real: its ExecStart and ExecStop
 * lines, read from the unit file and run as systemd would run them (the built xm in place of
 * /usr/local/bin/xm, a scratch root), over QEMU guests booting a host kernel and a busybox
 * initramfs. Host boot starts the guests linked in /etc/xen/auto and only those; host shutdown
 * shuts down every running guest, autostarted or not, through the ACPI power button, within the
 * unit's timeout, and leaves no QEMU behind. With `on_host_shutdown = save` in xenkit.conf the
 * stop command saves the guests instead (one with a hot-plugged disk, which cannot be saved, is
 * shut down and named) and the next start restores them with their memory as it was. The same
 * guests serve `xm save` and `xm restore`:
 * a guest saved to a file and restored runs on where it stopped, without booting again.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQemuDriver } from '../../../src/hypervisors/qemu/driver.js';
import { makePaths } from '../../../src/paths.js';
import { runCommand } from '../../../src/tools/exec.js';
import { openConsoleTap } from '../../hypervisors/qemu/console-tap.js';
import { REPO } from '../../helpers/cli.js';
import { buildTestInitramfs, findTestKernel, GUEST_MARKER } from '../../hypervisors/qemu/guest-fixture.js';

const UNIT = path.join(REPO, 'systemd/xenkit-guests.service');
const PREFIX = `xksvc${process.pid}`;
const AUTO = `${PREFIX}a`;
const MANUAL = `${PREFIX}m`;
const OTHER = `${PREFIX}o`;
let work: string;
let root: string;

/** The value of `key=` in the unit's [Service] section. */
function unitLine(key: string): string {
  const line = readFileSync(UNIT, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`${UNIT} has no ${key}=`);
  return line.slice(key.length + 1);
}

/** Runs a unit command line with the built xm standing in for /usr/local/bin/xm. */
async function runUnitCommand(line: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  // A leading "-" is systemd's "a failure does not fail the unit".
  const [program, ...args] = line.replace(/^-/, '').split(/\s+/);
  expect(program).toBe('/usr/local/bin/xm');
  return runCommand([process.execPath, path.join(REPO, 'bin/xm.js'), ...args], {
    env: { ...process.env, XENKIT_ROOT: root, XENKIT_DRIVER: 'qemu', XENKIT_ACCEL: 'tcg' },
    allowFailure: true,
    timeoutMs: 300_000,
  });
}

async function xm(...args: string[]): Promise<string> {
  const result = await runUnitCommand(['/usr/local/bin/xm', ...args].join(' '));
  if (result.exitCode !== 0) throw new Error(`xm ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function running(): Promise<string[]> {
  const listed = JSON.parse(await xm('list', '--json')) as { name: string }[];
  return listed
    .map((d) => d.name)
    .filter((n) => n.startsWith(PREFIX))
    .sort();
}

async function waitForMarker(name: string): Promise<void> {
  const log = path.join(root, 'run/xenkit/qemu', name, 'console.log');
  for (let i = 0; i < 600; i++) {
    if (existsSync(log) && readFileSync(log, 'utf8').includes(GUEST_MARKER)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${name} did not reach ${GUEST_MARKER}`);
}

async function qemusOfTest(): Promise<string[]> {
  const found = await runCommand(['pgrep', '-f', `qemu-system.* -name ${PREFIX}`], { allowFailure: true });
  return found.stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'xenkit-svc-'));
  root = path.join(work, 'root');
  const found = await findTestKernel();
  const initrd = path.join(work, 'initrd.img');
  await buildTestInitramfs(found.modulesDir, work, initrd);
  mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
  for (const name of [AUTO, MANUAL, OTHER]) {
    writeFileSync(
      path.join(root, 'etc/xen', `${name}.cfg`),
      [
        `name = '${name}'`,
        `kernel = '${found.kernel}'`,
        `ramdisk = '${initrd}'`,
        "memory = '128'",
        "vcpus = '1'",
        'vif = []',
        '',
      ].join('\n'),
    );
  }
  await xm('autostart', AUTO, 'on');
}, 600_000);

afterAll(async () => {
  for (const pid of await qemusOfTest()) process.kill(Number(pid), 'SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

describe('systemd/xenkit-guests.service', () => {
  it('is a oneshot unit that stays active, ordered after the network, enabled for multi-user boot', () => {
    const text = readFileSync(UNIT, 'utf8');
    expect(text).toMatch(/^Type=oneshot$/m);
    expect(text).toMatch(/^RemainAfterExit=yes$/m);
    expect(text).toMatch(/^After=.*network-online\.target/m);
    expect(text).toMatch(/^WantedBy=multi-user\.target$/m);
    // systemd's own stop timeout leaves room for the stop command's own wait and destroy.
    const wait = Number(/--timeout (\d+)/.exec(unitLine('ExecStop'))?.[1]);
    expect(Number(unitLine('TimeoutStopSec'))).toBeGreaterThan(wait + 30);
  });

  it('starts at boot exactly the guests linked in /etc/xen/auto', async () => {
    const started = await runUnitCommand(unitLine('ExecStart'));
    expect(started.stderr).toBe('');
    expect(started.exitCode).toBe(0);
    expect(await running()).toEqual([AUTO]);
    // Run again (a restart of the unit): nothing is started twice.
    expect((await runUnitCommand(unitLine('ExecStart'))).exitCode).toBe(0);
    expect(await qemusOfTest()).toHaveLength(1);
  }, 300_000);

  it('shuts every running guest down at host shutdown, autostarted or not, and leaves no QEMU', async () => {
    await xm('create', MANUAL);
    await waitForMarker(AUTO);
    await waitForMarker(MANUAL);
    const begun = Date.now();
    const stopped = await runUnitCommand(unitLine('ExecStop'));
    expect(stopped.exitCode).toBe(0);
    expect(stopped.stdout).toMatch(new RegExp(`^Shut down: (${AUTO}, ${MANUAL}|${MANUAL}, ${AUTO})\\n$`));
    expect(Date.now() - begun).toBeLessThan(Number(/--timeout (\d+)/.exec(unitLine('ExecStop'))?.[1]) * 1000);
    expect(await running()).toEqual([]);
    expect(await qemusOfTest()).toEqual([]);
    // Shut down through the power button, not destroyed: that would be reported as such.
    expect(stopped.stdout).not.toContain('Destroyed');
  }, 300_000);

  it('saves the guests at host shutdown with on_host_shutdown = save, and restores them at boot', async () => {
    const conf = path.join(root, 'etc/xenkit/xenkit.conf');
    mkdirSync(path.dirname(conf), { recursive: true });
    writeFileSync(conf, 'on_host_shutdown = save\n');
    const saveDir = path.join(root, 'var/lib/xenkit/save');
    try {
      expect((await runUnitCommand(unitLine('ExecStart'))).exitCode).toBe(0);
      await xm('create', MANUAL);
      await waitForMarker(AUTO);
      await waitForMarker(MANUAL);
      // Something only this run of the guest holds, in its RAM (the initramfs root is a tmpfs).
      const marker = `mark-${process.pid}-${Date.now()}`;
      const driver = createQemuDriver({ paths: makePaths(root), accel: 'tcg' });
      const before = openConsoleTap(driver, AUTO);
      before.type(`run mkdir -p /dev/shm && echo ${marker} > /dev/shm/xenkit-marker && echo WROTE`);
      await before.waitFor(/WROTE\s+RUN-DONE 0/, 60_000);
      await before.detach();
      // MANUAL gets a disk hot-plugged: a save file cannot carry it, so it is shut down instead.
      const disk = path.join(work, 'hotplug.img');
      writeFileSync(disk, Buffer.alloc(1024 * 1024));
      await xm('block-attach', MANUAL, `format=raw,vdev=xvdb,access=rw,target=${disk}`);

      const stopped = await runUnitCommand(unitLine('ExecStop'));
      expect(stopped.exitCode).toBe(0);
      expect(stopped.stdout).toContain(`Saved to ${saveDir}: ${AUTO}\n`);
      expect(stopped.stdout).toMatch(
        new RegExp(`Domain ${MANUAL} could not be saved \\(.*devices attached.*\\): shut down instead`),
      );
      expect(await running()).toEqual([]);
      expect(await qemusOfTest()).toEqual([]);
      expect(statSync(path.join(saveDir, `${AUTO}.save`)).mode & 0o777).toBe(0o600);

      const started = await runUnitCommand(unitLine('ExecStart'));
      expect(started.exitCode).toBe(0);
      expect(started.stdout).toContain(`Restored domain ${AUTO} `);
      expect(started.stdout).toContain(`Domain ${AUTO} is already running`);
      expect(await running()).toEqual([AUTO]);
      expect(existsSync(path.join(saveDir, `${AUTO}.save`))).toBe(false);
      // Restored, not rebooted: the marker is still in its RAM, and its console saw no boot.
      const after = openConsoleTap(driver, AUTO);
      after.type('run cat /dev/shm/xenkit-marker');
      await after.waitFor(new RegExp(`${marker}\\s+RUN-DONE 0`), 60_000);
      await after.detach();
      const log = readFileSync(path.join(root, 'run/xenkit/qemu', AUTO, 'console.log'), 'utf8');
      expect(log).not.toContain(GUEST_MARKER);
    } finally {
      rmSync(conf);
      await runUnitCommand('/usr/local/bin/xm destroy ' + AUTO);
    }
    expect(await qemusOfTest()).toEqual([]);
  }, 300_000);
});

describe('xm save and xm restore', () => {
  it('saves a running guest to a new 0600 file and stops it; restore runs it on without a boot', async () => {
    await xm('create', OTHER);
    await waitForMarker(OTHER);
    const before = JSON.parse(await xm('list', '--json')) as { name: string; id: number }[];
    const oldId = before.find((d) => d.name === OTHER)?.id;
    const file = path.join(work, 'other.save');
    // Bad input: an existing file is never overwritten; the guest keeps running.
    const taken = path.join(work, 'taken.save');
    writeFileSync(taken, 'keep me\n');
    const refusedSave = await runUnitCommand(`/usr/local/bin/xm save ${OTHER} ${taken}`);
    expect(refusedSave.exitCode).toBe(2);
    expect(readFileSync(taken, 'utf8')).toBe('keep me\n');
    expect(await running()).toEqual([OTHER]);

    const saved = JSON.parse(await xm('save', OTHER, file, '--json')) as { ok: boolean; ms: number };
    expect(saved.ok).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await running()).toEqual([]);
    expect(await qemusOfTest()).toEqual([]);

    // A file that is not a save file is refused, and nothing starts.
    const refused = await runUnitCommand(`/usr/local/bin/xm restore ${taken}`);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('is not a save file');
    expect(await qemusOfTest()).toEqual([]);

    const restored = JSON.parse(await xm('restore', file, '--json')) as { domain: string; id: number };
    expect(restored.domain).toBe(OTHER);
    expect(restored.id).not.toBe(oldId);
    expect(await running()).toEqual([OTHER]);
    // Running on where it stopped: the guest's init answers on its console, and nothing booted.
    const driver = createQemuDriver({ paths: makePaths(root), accel: 'tcg' });
    const tap = openConsoleTap(driver, OTHER);
    tap.type('status');
    await tap.waitFor(/STATUS cpus=1 memtotal=\d+/, 60_000);
    const log = readFileSync(path.join(root, 'run/xenkit/qemu', OTHER, 'console.log'), 'utf8');
    expect(log).not.toContain(GUEST_MARKER);
    expect(log).not.toContain('Linux version');
    // The magic SysRq key reaches the restored guest's kernel through its keyboard: its handler's
    // line is in the kernel log. (Not awaited on the console: the handler raises the console's log
    // level only while it runs, and a line the console prints later, when it gets the lock, is
    // then left out; under load that happened in 2 of 15 runs.)
    expect(await xm('sysrq', OTHER, 'h')).toContain(`Sent SysRq h to domain ${OTHER}`);
    let handled = '';
    for (let i = 0; i < 30 && !handled.includes('RUN-DONE 0'); i++) {
      const from = tap.text().length;
      // (HEL[P]: the echo of the typed line does not match.)
      tap.type("run dmesg | grep -m1 'sysrq: HEL[P]'");
      handled = (await tap.waitFor(/[^\n]*sysrq: HELP[^\n]*\s+RUN-DONE \d+|RUN-DONE \d+/, 60_000, from))[0];
      if (!handled.includes('RUN-DONE 0')) await new Promise((r) => setTimeout(r, 2000));
    }
    expect(handled).toMatch(/sysrq: HELP/);
    await tap.detach();
    await xm('destroy', OTHER);
    expect(await qemusOfTest()).toEqual([]);
  }, 300_000);
});

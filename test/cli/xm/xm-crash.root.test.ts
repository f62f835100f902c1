/**
 * xm never loses a QEMU, against the real qemu-system-x86_64 (TCG) and the built CLI: an
 * `xm create` killed with SIGKILL right after QEMU is up leaves a QEMU that `xm list` shows
 * and `xm destroy` ends; two concurrent `xm create` of one guest start exactly one QEMU.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../../src/tools/exec.js';
import { REPO, runBin, type CliResult } from '../../helpers/cli.js';
import { buildTestInitramfs, findTestKernel } from '../../hypervisors/qemu/guest-fixture.js';

const NAME = `xkcr${process.pid}`;

let work: string;
let root: string;
let env: Record<string, string>;

async function qemuPids(): Promise<number[]> {
  const result = await runCommand(['pgrep', '-f', `qemu-system.* -name ${NAME},`], { allowFailure: true });
  return result.stdout.split('\n').filter(Boolean).map(Number);
}

const xm = (...args: string[]): Promise<CliResult> => runBin('xm', args, { env, timeoutMs: 120_000 });

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-crash-'));
  root = path.join(work, 'root');
  env = { XENKIT_ROOT: root, XENKIT_DRIVER: 'qemu', XENKIT_ACCEL: 'tcg' };
  const found = await findTestKernel();
  const initrd = path.join(work, 'initrd.img');
  await buildTestInitramfs(found.modulesDir, work, initrd);
  mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
  writeFileSync(
    path.join(root, 'etc/xen', `${NAME}.cfg`),
    [
      `name = '${NAME}'`,
      `kernel = '${found.kernel}'`,
      `ramdisk = '${initrd}'`,
      "memory = '128'",
      "vcpus = '1'",
      'disk = [ ]',
      'vif = [ ]',
      '',
    ].join('\n'),
  );
}, 600_000);

afterAll(async () => {
  for (const pid of await qemuPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (process.env.KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
  expect(await qemuPids()).toEqual([]);
});

describe('xm and a QEMU whose xm died', () => {
  it('lists and destroys the QEMU of an xm create killed with SIGKILL right after QEMU is up', async () => {
    const pidfile = path.join(root, 'run/xenkit/qemu', NAME, 'qemu.pid');
    let xmPid = 0;
    const created = runBin('xm', ['create', NAME], {
      env,
      timeoutMs: 120_000,
      onSpawn: (pid) => (xmPid = pid),
    });
    // QEMU writes its pidfile once it has daemonized: kill xm at that moment.
    const deadline = Date.now() + 60_000;
    while (!existsSync(pidfile) || readFileSync(pidfile, 'utf8').trim() === '') {
      if (Date.now() > deadline) throw new Error(`no ${pidfile} within 60 s`);
      await sleep(5);
    }
    process.kill(xmPid, 'SIGKILL');
    expect((await created).signal).toBe('SIGKILL');
    // Let QEMU finish its start-up (its parent process exits once the machine is set up).
    await sleep(2000);
    const [qemu] = await qemuPids();
    expect(qemu).toBeGreaterThan(0);

    const listed = await xm('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${NAME}\\s+\\d+\\s+128\\s+1\\s+`, 'm'));
    expect(listed.stderr).toContain(`guest "${NAME}": adopted QEMU pid ${qemu}`);
    // A named listing holds that guest alone (Domain-0 only when it is named).
    expect(JSON.parse((await xm('list', '--json', NAME)).stdout)).toMatchObject([
      { name: NAME, details: { pid: qemu } },
    ]);

    // Its QMP and console sockets are closed to other users.
    for (const socket of ['qmp.sock', 'console.sock']) {
      const probe = await runCommand(
        [
          'runuser',
          '-u',
          'nobody',
          '--',
          process.execPath,
          '-e',
          `require('net').connect(process.argv[1]).on('connect', () => { console.log('CONNECTED'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`,
          path.join(root, 'run/xenkit/qemu', NAME, socket),
        ],
        { allowFailure: true },
      );
      expect(probe.stdout.trim()).toBe('EACCES');
    }
    expect(statSync(path.join(root, 'run/xenkit/qemu')).mode & 0o777).toBe(0o700);

    // A second create is refused while it runs: no second QEMU on the same image.
    const again = await xm('create', NAME);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('is already running');

    const destroyed = await xm('destroy', NAME);
    expect(destroyed.stderr).toBe('');
    expect(destroyed.code).toBe(0);
    expect(await qemuPids()).toEqual([]);
    expect((await xm('list')).stdout).not.toContain(NAME);
  });

  it('never loses the QEMU of an xm create interrupted by Ctrl-C (SIGINT to its process group)', async () => {
    const pidfile = path.join(root, 'run/xenkit/qemu', NAME, 'qemu.pid');
    // Its own process group, as a shell gives a foreground job: Ctrl-C signals the whole group.
    const child = spawn(process.execPath, [path.join(REPO, 'bin/xm.js'), 'create', NAME], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
      detached: true,
    });
    const exited = new Promise((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 60_000;
    while (!existsSync(pidfile)) {
      if (Date.now() > deadline) throw new Error(`no ${pidfile} within 60 s`);
      await sleep(5);
    }
    process.kill(-(child.pid ?? 0), 'SIGINT');
    expect(await exited).toBe('SIGINT');
    await sleep(2000);
    // Whether QEMU survived the signal or not, xm list and the processes agree.
    const running = await qemuPids();
    const listed = await xm('list');
    expect(listed.stdout.includes(NAME)).toBe(running.length === 1);
    if (running.length === 1) expect((await xm('destroy', NAME)).code).toBe(0);
    expect(await qemuPids()).toEqual([]);
    expect((await xm('list')).stdout).not.toContain(NAME);
    // And the next create starts the guest.
    expect((await xm('create', NAME)).code).toBe(0);
    expect(await qemuPids()).toHaveLength(1);
    expect((await xm('destroy', NAME)).code).toBe(0);
  });

  it('starts exactly one QEMU for two concurrent xm create of one guest', async () => {
    const results = await Promise.all([xm('create', NAME), xm('create', NAME)]);
    const codes = results.map((r) => r.code).sort();
    expect(codes[0]).toBe(0);
    expect(codes[1]).not.toBe(0);
    const loser = results.find((r) => r.code !== 0);
    expect(loser?.stderr).toMatch(/is locked by another xenkit process|is already running/);
    expect(await qemuPids()).toHaveLength(1);
    const listed = await xm('list');
    expect(listed.stdout.split('\n').filter((line) => line.startsWith(NAME))).toHaveLength(1);
    expect((await xm('destroy', NAME)).code).toBe(0);
    expect(await qemuPids()).toEqual([]);
  });
});

/**
 * The xm verbs over a running guest's devices and limits, for real: the built xm against QEMU
 * (TCG) booting a host kernel and a busybox initramfs with virtio-blk and virtio-net, one boot
 * for every scenario. A disk image is attached and seen by the guest as a virtio disk, then
 * detached; a NIC likewise; vCPU threads are pinned and checked with taskset; mem-max, dmesg and
 * top read the same guest; a disk attached before `xm reboot` is there after it; last the
 * running guest is renamed (cfg, autostart link, runtime state) and destroyed under its new name
 * with nothing left behind.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQemuDriver } from '../../../src/hypervisors/qemu/driver.js';
import { makePaths } from '../../../src/paths.js';
import { runCommand } from '../../../src/tools/exec.js';
import { openConsoleTap, type ConsoleTap } from '../../hypervisors/qemu/console-tap.js';
import { REPO } from '../../helpers/cli.js';
import { buildTestInitramfs, findTestKernel, GUEST_MARKER } from '../../hypervisors/qemu/guest-fixture.js';

const NAME = `xkhp${process.pid}`;
const RENAMED = `${NAME}r`;
const NIC_MAC = '00:16:3e:5a:6b:7c';
const EXTRA_MODULES = [
  'drivers/block/virtio_blk.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
];
let work: string;
let root: string;
let image: string;
let tap: ConsoleTap;
const timings: Record<string, number> = {};

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

async function xmRun(...args: string[]): Promise<Run> {
  return runCommand([process.execPath, path.join(REPO, 'bin/xm.js'), ...args], {
    env: { ...process.env, XENKIT_ROOT: root, XENKIT_DRIVER: 'qemu', XENKIT_ACCEL: 'tcg' },
    allowFailure: true,
    timeoutMs: 180_000,
  });
}

async function xm(...args: string[]): Promise<string> {
  const result = await xmRun(...args);
  if (result.exitCode !== 0) throw new Error(`xm ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Runs `cmd` in the guest through its console; resolves with what it printed. */
async function inGuest(cmd: string): Promise<string> {
  const from = tap.text().length;
  tap.type(`run ${cmd}`);
  const match = await tap.waitFor(/([\s\S]*?)RUN-DONE (\d+)/, 60_000, from);
  return match[1] ?? '';
}

async function qemus(): Promise<string[]> {
  const found = await runCommand(['pgrep', '-f', `qemu-system.* -name ${NAME}`], { allowFailure: true });
  return found.stdout.split('\n').filter(Boolean);
}

async function slirps(): Promise<string[]> {
  const found = await runCommand(['pgrep', '-f', `slirp4netns.*${root}`], { allowFailure: true });
  return found.stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'xenkit-hotplug-'));
  root = path.join(work, 'root');
  const found = await findTestKernel();
  const initrd = path.join(work, 'initrd.img');
  await buildTestInitramfs(found.modulesDir, work, initrd, EXTRA_MODULES);
  image = path.join(work, 'data.img');
  await runCommand(['truncate', '-s', '6M', image]);
  mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
  writeFileSync(
    path.join(root, 'etc/xen', `${NAME}.cfg`),
    [
      `name = '${NAME}'`,
      `kernel = '${found.kernel}'`,
      `ramdisk = '${initrd}'`,
      "memory = '160'",
      "maxmem = '256'",
      "vcpus = '2'",
      "vif = [ 'mac=00:16:3e:5a:6b:01' ]",
      '',
    ].join('\n'),
  );
  await xm('autostart', NAME, 'on');
  const started = Date.now();
  await xm('create', NAME);
  tap = openConsoleTap(createQemuDriver({ paths: makePaths(root) }), NAME, path.join(work, 'console.txt'));
  await tap.waitFor(new RegExp(GUEST_MARKER), 180_000);
  timings.boot = Date.now() - started;
}, 600_000);

afterAll(async () => {
  await tap?.detach().catch(() => undefined);
  for (const pid of await qemus()) process.kill(Number(pid), 'SIGKILL');
  for (const pid of await slirps()) process.kill(Number(pid), 'SIGKILL');
  if (process.env.KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
  console.log('timings (ms):', JSON.stringify(timings));
});

describe('xm device and limit verbs on a running QEMU guest', () => {
  it('attaches a disk image the guest sees as a virtio disk, lists it, and detaches it', async () => {
    const started = Date.now();
    expect(await inGuest('ls /sys/block')).not.toMatch(/vd[a-z]/);
    await xm('block-attach', NAME, `format=raw, vdev=xvdb, access=rw, target=${image}`);
    const listed = JSON.parse(await xm('block-list', NAME, '--json')) as {
      vdev: string;
      hotplugged: boolean;
    }[];
    expect(listed).toEqual([expect.objectContaining({ vdev: 'xvdb', target: image, hotplugged: true })]);
    let seen = '';
    for (let i = 0; i < 30 && !/vd[a-z]/.test(seen); i++) seen = await inGuest('ls /sys/block');
    const dev = /vd[a-z]/.exec(seen)?.[0];
    expect(dev).toBeDefined();
    // 6 MiB in 512-byte sectors.
    expect(await inGuest(`cat /sys/block/${dev}/size`)).toMatch(/\b12288\b/);
    // A second disk with the same vdev is refused; the cfg is untouched by hotplug (as with xl).
    const again = await xmRun('block-attach', NAME, `format=raw, vdev=xvdb, access=rw, target=${image}`);
    expect(again.exitCode).toBe(2);
    expect(readFileSync(path.join(root, 'etc/xen', `${NAME}.cfg`), 'utf8')).not.toContain('xvdb');
    await xm('block-detach', NAME, 'xvdb');
    expect(await inGuest('ls /sys/block')).not.toMatch(/vd[a-z]/);
    expect(JSON.parse(await xm('block-list', NAME, '--json'))).toEqual([]);
    timings.disk = Date.now() - started;
  });

  it('attaches a NIC with the MAC given, the guest sees it, and detaches it; a boot NIC stays', async () => {
    const started = Date.now();
    await xm('network-attach', NAME, `mac=${NIC_MAC}`);
    const nics = JSON.parse(await xm('network-list', NAME, '--json')) as { devid: number; mac: string }[];
    expect(nics.map((n) => [n.devid, n.mac])).toEqual([
      [0, '00:16:3e:5a:6b:01'],
      [1, NIC_MAC],
    ]);
    let seen = '';
    for (let i = 0; i < 30 && !seen.includes(NIC_MAC); i++)
      seen = await inGuest('cat /sys/class/net/*/address');
    expect(seen).toContain(NIC_MAC);
    const boot = await xmRun('network-detach', NAME, '0');
    expect(boot.exitCode).toBe(2);
    expect(boot.stderr).toContain('was there at boot');
    await xm('network-detach', NAME, NIC_MAC);
    expect(await inGuest('cat /sys/class/net/*/address')).not.toContain(NIC_MAC);
    timings.nic = Date.now() - started;
  });

  it('pins vCPU threads (taskset shows the mask) and lists them', async () => {
    const pid = (await qemus())[0] as string;
    const vcpuThread = (n: number): string =>
      readdirSync(`/proc/${pid}/task`).find(
        (tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === `CPU ${n}/TCG`,
      ) as string;
    await xm('vcpu-pin', NAME, '1', '0');
    const mask = await runCommand(['taskset', '-p', vcpuThread(1)]);
    expect(mask.stdout).toMatch(/current affinity mask: 1$/m);
    const vcpus = JSON.parse(await xm('vcpu-list', NAME, '--json')) as { vcpu: number; affinity: string }[];
    expect(vcpus.map((v) => v.vcpu)).toEqual([0, 1]);
    expect(vcpus[1]?.affinity).toBe('0');
    expect(await xm('vcpu-list', NAME)).toMatch(
      new RegExp(`^${NAME}\\s+\\d+\\s+1\\s+\\d+\\s+[-r][-b]-\\s+[\\d.]+\\s+0$`, 'm'),
    );
    await xm('vcpu-pin', NAME, 'all', 'all');
    expect((await runCommand(['taskset', '-p', vcpuThread(1)])).stdout).not.toMatch(/mask: 1$/m);
    expect((await xmRun('vcpu-pin', NAME, '5', '0')).exitCode).toBe(2);
  });

  it('lowers the maximum memory, refuses more than QEMU has; dmesg and top read the guest', async () => {
    await xm('mem-max', NAME, '200M');
    const listed = JSON.parse(await xm('list', NAME, '--json')) as { name: string; maxMemoryMiB: number }[];
    expect(listed.find((d) => d.name === NAME)?.maxMemoryMiB).toBe(200);
    expect((await xmRun('mem-set', NAME, '220M')).exitCode).toBe(2);
    expect((await xmRun('mem-max', NAME, '1G')).exitCode).toBe(2);
    expect(await xm('dmesg', NAME)).toContain(GUEST_MARKER);
    const top = await xm('top', '-b', '-i', '2', '-d', '0.5');
    expect(top.match(new RegExp(`^\\s*${NAME} `, 'gm'))).toHaveLength(2);
  });

  it('keeps a hot-plugged disk across xm reboot (a new QEMU boots with it), still not in the cfg', async () => {
    const started = Date.now();
    await xm('block-attach', NAME, `format=raw, vdev=xvdb, access=rw, target=${image}`);
    await tap.detach();
    await xm('reboot', NAME);
    tap = openConsoleTap(createQemuDriver({ paths: makePaths(root) }), NAME, path.join(work, 'console.txt'));
    await tap.waitFor(new RegExp(GUEST_MARKER), 180_000);
    expect(await inGuest('cat /sys/block/vda/size')).toMatch(/\b12288\b/);
    const listed = JSON.parse(await xm('block-list', NAME, '--json')) as {
      vdev: string;
      hotplugged: boolean;
    }[];
    expect(listed).toEqual([expect.objectContaining({ vdev: 'xvdb', hotplugged: false })]);
    expect(readFileSync(path.join(root, 'etc/xen', `${NAME}.cfg`), 'utf8')).not.toContain('xvdb');
    timings.reboot = Date.now() - started;
  });

  it('renames the running guest: cfg, autostart link and runtime state; destroyed under its new name', async () => {
    await xm('rename', NAME, RENAMED);
    const names = (JSON.parse(await xm('list', '--json')) as { name: string }[]).map((d) => d.name);
    expect(names.filter((n) => n.startsWith(NAME))).toEqual([RENAMED]);
    expect(existsSync(path.join(root, 'etc/xen', `${NAME}.cfg`))).toBe(false);
    expect(readFileSync(path.join(root, 'etc/xen', `${RENAMED}.cfg`), 'utf8')).toContain(
      `name = '${RENAMED}'`,
    );
    expect(readlinkSync(path.join(root, 'etc/xen/auto', `${RENAMED}.cfg`))).toBe(`../${RENAMED}.cfg`);
    expect(existsSync(path.join(root, 'etc/xen/auto', `${NAME}.cfg`))).toBe(false);
    // The QEMU is the same, still answering under the new name.
    expect(await xm('dmesg', RENAMED)).toContain(GUEST_MARKER);
    expect((await xmRun('dmesg', NAME)).exitCode).not.toBe(0);
    await tap.detach();
    await xm('destroy', RENAMED);
    expect(await qemus()).toEqual([]);
    expect(await slirps()).toEqual([]);
    // Stopped, it is renamed back by its files alone.
    await xm('rename', RENAMED, NAME);
    expect(readFileSync(path.join(root, 'etc/xen', `${NAME}.cfg`), 'utf8')).toContain(`name = '${NAME}'`);
    expect(readdirSync(path.join(root, 'run/xenkit/qemu')).filter((f) => f.startsWith('.renamed'))).toEqual(
      [],
    );
  });
});

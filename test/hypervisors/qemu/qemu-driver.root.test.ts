/**
 * The QEMU driver against the real qemu-system-x86_64 (TCG here): a Debian kernel with a busybox
 * initramfs, driven through create, console, list, mem-set, vcpu-set, pause, sched, shutdown,
 * guest reboot, xm reboot and destroy. Every step is bounded; afterAll kills any stray QEMU.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainInfo, HypervisorDriver } from '../../../src/hypervisors/driver.js';
import { createQemuDriver } from '../../../src/hypervisors/qemu/driver.js';
import { isQemuAlive } from '../../../src/hypervisors/qemu/registry.js';
import { makePaths, type Paths } from '../../../src/paths.js';
import { runCommand } from '../../../src/tools/exec.js';
import { disk, domainConfig, vif } from './fixtures.js';
import { openConsoleTap, type ConsoleTap } from './console-tap.js';
import { buildBootImage, buildTestInitramfs, findTestKernel, GUEST_MARKER } from './guest-fixture.js';
import { tcgCacheKiB } from '../../helpers/qemu-proc.js';

const NAME = `xkrt${process.pid}`;
const BRIDGE = `xkbr${process.pid % 100000}`;
const BOOT_MS = 120_000;
const MiB = 1024 * 1024;

let work: string;
let paths: Paths;
let driver: HypervisorDriver;
let kernel: string;
let initrd: string;
let version: string;
const timings: Record<string, number> = {};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function find(name: string): Promise<DomainInfo | undefined> {
  return (await driver.list()).find((d) => d.name === name);
}

function letters(info: DomainInfo | undefined): string {
  const s = info?.state;
  if (!s) return 'gone';
  return [
    s.running && 'r',
    s.blocked && 'b',
    s.paused && 'p',
    s.shutdown && 's',
    s.crashed && 'c',
    s.dying && 'd',
  ]
    .filter(Boolean)
    .join('');
}

async function pgrepName(): Promise<number[]> {
  const result = await runCommand(['pgrep', '-f', `qemu-system.* -name ${NAME},`], { allowFailure: true });
  return result.stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * QEMU's mappings of its -kernel and -initrd files, from /proc/PID/smaps: how many there are and
 * how many KiB of them are resident.
 */
function bootFilePages(pid: number): Record<'kernel' | 'initrd', { mappings: number; rssKiB: number }> {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  const files = { kernel: argv[argv.indexOf('-kernel') + 1], initrd: argv[argv.indexOf('-initrd') + 1] };
  const out = { kernel: { mappings: 0, rssKiB: 0 }, initrd: { mappings: 0, rssKiB: 0 } };
  let current: (typeof out)['kernel'] | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(.*)$/.exec(line);
    if (head) {
      current = head[1] === files.kernel ? out.kernel : head[1] === files.initrd ? out.initrd : undefined;
      if (current) current.mappings += 1;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current) current.rssKiB += Number(rss[1]);
  }
  return out;
}

const memtotal = (tap: ConsoleTap, from = 0): number[] =>
  [
    ...tap
      .text()
      .slice(from)
      .matchAll(/STATUS cpus=\d+ memtotal=(\d+)/g),
  ].map((m) => Number(m[1]));

/** Waits until the guest reports a MemTotal (kB) that satisfies `ok` (the balloon moves in steps). */
async function waitForMemtotal(
  tap: ConsoleTap,
  ok: (kb: number) => boolean,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = memtotal(tap).at(-1);
    if (last !== undefined && ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`guest MemTotal stayed at ${last} kB:\n${tap.text().slice(-1500)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'xenkit-qemu-'));
  paths = makePaths(path.join(work, 'root'));
  driver = createQemuDriver({ paths, shutdownTimeoutMs: 60_000 });
  const found = await findTestKernel();
  kernel = found.kernel;
  version = found.version;
  initrd = path.join(work, 'initrd.img');
  await buildTestInitramfs(found.modulesDir, work, initrd);
  await runCommand(['ip', 'link', 'add', 'name', BRIDGE, 'type', 'bridge']);
}, 600_000);

afterAll(async () => {
  for (const d of await driver.list().catch(() => [])) await driver.destroy(d.name).catch(() => undefined);
  for (const pid of await pgrepName()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await runCommand(['ip', 'link', 'del', BRIDGE], { allowFailure: true });
  if (process.env.KEEP_WORK !== '1') rmSync(work, { recursive: true, force: true });
  console.log('timings (ms):', JSON.stringify(timings));
  expect(await pgrepName()).toEqual([]);
});

describe('the QEMU driver on a real guest', () => {
  let tap: ConsoleTap;
  let firstId = 0;

  it('creates a guest from a host kernel and shows the marker on its console', async () => {
    const started = Date.now();
    const info = await driver.create(
      domainConfig({
        name: NAME,
        bootloader: undefined,
        kernel,
        ramdisk: initrd,
        memory: 256,
        maxmem: 512,
        vcpus: 1,
        maxvcpus: 2,
        disks: [],
        vifs: [vif('00:16:3E:12:34:56', BRIDGE)],
        onReboot: 'restart',
      }),
      { cfgPath: `/etc/xen/${NAME}.cfg` },
    );
    timings.create = Date.now() - started;
    firstId = info.id;
    expect(info.id).toBeGreaterThanOrEqual(1);
    tap = openConsoleTap(driver, NAME, path.join(work, 'console.txt'));
    await tap.waitFor(new RegExp(GUEST_MARKER), BOOT_MS);
    timings.bootToMarker = Date.now() - started;
    await tap.waitFor(/STATUS cpus=1 memtotal=\d+/, 30_000);
    // The balloon takes the guest from its 512 MiB maxmem down to 256 MiB as it boots.
    await waitForMemtotal(tap, (kb) => kb < 220 * 1024, 60_000);
  });

  it("hands back QEMU's pages of the kernel and initrd once the guest has them (it booted on them)", async () => {
    const pages = bootFilePages(Number((await find(NAME))?.details.pid));
    expect(pages.kernel.mappings).toBeGreaterThan(0);
    expect(pages.initrd.mappings).toBeGreaterThan(0);
    expect(pages).toMatchObject({ kernel: { rssKiB: 0 }, initrd: { rssKiB: 0 } });
  });

  it("keeps QEMU's stderr in qemu.log of its runtime directory, not /dev/null, once daemonized", async () => {
    const [pid] = await pgrepName();
    const stderr = await runCommand(['readlink', `/proc/${pid}/fd/2`]);
    expect(stderr.stdout.trim()).toBe(path.join(paths.stateDir, 'qemu', NAME, 'qemu.log'));
  });

  it('lists it running with its ID, ballooned memory and a bridged tap', async () => {
    // The balloon inflates to the cfg's memory while the guest boots, in steps: wait for the
    // guest to have handed the 256 MiB back (it reports MemTotal on its console).
    await waitForMemtotal(tap, (kb) => kb < 300 * 1024, 120_000);
    let info = await find(NAME);
    for (let i = 0; i < 100 && info?.memoryMiB !== 256; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      info = await find(NAME);
    }
    expect(letters(info)).toBe('r');
    expect(info?.id).toBe(firstId);
    expect(info?.maxMemoryMiB).toBe(512);
    expect(info?.memoryMiB).toBe(256);
    expect(info?.vcpus).toBe(1);
    expect(info?.cpuTimeSec).toBeGreaterThan(0);
    const link = await runCommand(['ip', '-j', 'link', 'show', `xkvif${firstId}.0`]);
    expect((JSON.parse(link.stdout) as { master?: string }[])[0]?.master).toBe(BRIDGE);
    // The guest's own view: the 256 MiB balloon is out of its 512 MiB.
    expect(memtotal(tap).at(-1)).toBeLessThan(300 * 1024);
  });

  it('grows and shrinks the guest memory with the balloon, within maxmem', async () => {
    const start = memtotal(tap).at(-1) ?? 0;
    await driver.setMemory(NAME, 448 * MiB);
    // 192 MiB more for the guest; the kernel's own share of what comes back varies by a few
    // dozen MiB (a quiet CI run grew MemTotal by 174 MiB), so ask for well over half of it.
    const grown = await waitForMemtotal(tap, (kb) => kb >= start + 150 * 1024, 120_000);
    expect((await find(NAME))?.memoryMiB).toBe(448);
    await driver.setMemory(NAME, 192 * MiB);
    await waitForMemtotal(tap, (kb) => kb <= grown - 200 * 1024, 120_000);
    await expect(driver.setMemory(NAME, 1024 * MiB)).rejects.toThrow(/more than its maxmem 512 MiB/);
  });

  it('hot-adds a vCPU the guest brings online', async () => {
    await driver.setVcpus(NAME, 2);
    await tap.waitFor(/STATUS cpus=2 /, 60_000);
    expect((await find(NAME))?.vcpus).toBe(2);
    await expect(driver.setVcpus(NAME, 3)).rejects.toThrow(/3 vCPUs is outside 1\.\.2/);
  });

  it('pauses and unpauses (state p, then r)', async () => {
    await driver.pause(NAME);
    expect(letters(await find(NAME))).toBe('p');
    await driver.unpause(NAME);
    expect(letters(await find(NAME))).toBe('r');
  });

  it('sets weight and cap in a cgroup holding the QEMU process', async () => {
    const result = await driver.schedCredit(NAME, { weight: 512, cap: 50 });
    expect(result).toEqual({ weight: 512, cap: 50 });
    expect(await driver.schedCredit(NAME, {})).toEqual({ weight: 512, cap: 50 });
    const pid = (await find(NAME))?.details.pid as number;
    const cgroupLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    expect(cgroupLine).toContain(`/xenkit/${NAME}`);
  });

  it('replays the console log to a newly attached console', async () => {
    await tap.detach();
    tap = openConsoleTap(driver, NAME, path.join(work, 'console.txt'));
    await tap.waitFor(/STATUS cpus=2 memtotal=\d+/, 5_000);
    tap.type('status');
    await tap.waitFor(/status\s+STATUS/, 30_000);
  });

  it('gives the guest a new ID when it reboots itself', async () => {
    const before = (await find(NAME))?.details.pid;
    const from = tap.text().length;
    tap.type('reboot');
    await tap.waitFor(/REBOOTING/, 30_000, from);
    await tap.waitFor(new RegExp(GUEST_MARKER), BOOT_MS, from);
    const info = await find(NAME);
    expect(info?.id).toBe(firstId + 1);
    expect(info?.details.pid).toBe(before);
    // The reset read them back from the files; counting the reboot handed them back again.
    expect(bootFilePages(Number(before))).toMatchObject({ kernel: { rssKiB: 0 }, initrd: { rssKiB: 0 } });
  });

  it('removes the hot-added vCPU again (the guest ejects it), or under TCG says it cannot', async () => {
    const from = tap.text().length;
    const argv = readFileSync(`/proc/${(await find(NAME))?.details.pid}/cmdline`, 'latin1').split('\0');
    if (argv[argv.indexOf('-accel') + 1]?.startsWith('tcg')) {
      // maxvcpus 2 over vcpus 1: single-threaded TCG, which cannot unplug a vCPU.
      await expect(driver.setVcpus(NAME, 1)).rejects.toThrow(
        'vCPUs cannot be removed while it runs under single-threaded TCG',
      );
      tap.type('status');
      await tap.waitFor(/STATUS cpus=2 /, 30_000, from);
      return;
    }
    await driver.setVcpus(NAME, 1);
    await tap.waitFor(/STATUS cpus=1 /, 60_000, from);
  });

  it('shuts down through the ACPI power button and waits until QEMU is gone', async () => {
    const pid = (await find(NAME))?.details.pid as number;
    const started = Date.now();
    await driver.shutdown(NAME, { wait: true });
    timings.shutdown = Date.now() - started;
    expect(await find(NAME)).toBeUndefined();
    // Gone, or a zombie until the host's init reaps it (QEMU daemonized away from us).
    expect(isQemuAlive(pid)).toBe(false);
    // The kernel drops the tap once QEMU's file descriptor is closed, a moment after the exit.
    for (let i = 0; i < 50 && existsSync(`/sys/class/net/xkvif${firstId}.0`); i++) await sleep(100);
    expect(existsSync(`/sys/class/net/xkvif${firstId}.0`)).toBe(false);
    expect(existsSync(path.join(paths.stateDir, 'qemu', NAME))).toBe(false);
    await tap.ended;
  });

  it('boots the guest kernel out of a qcow2 image (pygrub style) under a higher ID, then xm reboot gives another', async () => {
    const raw = path.join(work, 'disk.img');
    const qcow2 = path.join(work, 'disk.qcow2');
    await buildBootImage(kernel, initrd, version, work, raw);
    await runCommand(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    const started = Date.now();
    const info = await driver.create(
      domainConfig({
        name: NAME,
        bootloader: 'pygrub',
        disks: [disk(qcow2, 'xvda2', { format: 'qcow2' })],
        vifs: [vif(undefined)],
        memory: 256,
        maxmem: 256,
        tcgCacheMiB: 48,
      }),
      { cfgPath: undefined },
    );
    expect(info.id).toBeGreaterThan(firstId + 1);
    // Under TCG QEMU boots the kernel's PVH ELF, unpacked on the host (pvh-kernel.ts).
    const accel = (info.details.accel as { kind?: string } | undefined)?.kind;
    const booted = accel === 'kvm' ? `vmlinuz-${version.replace(/\./g, '\\.')}` : 'vmlinux-pvh';
    expect(info.details.kernel).toMatch(new RegExp(`/${booted}$`));
    expect(info.details.initrd).toMatch(/initrd\.img-/);
    tap = openConsoleTap(driver, NAME, path.join(work, 'console.txt'));
    await tap.waitFor(new RegExp(GUEST_MARKER), BOOT_MS);
    timings.pygrubBootToMarker = Date.now() - started;
    await tap.detach();
    // xenkit_tcg_cache = 48: TCG's translation cache (QEMU's writable, executable mapping) has
    // that size, less QEMU's guard page; it booted in it.
    if (accel !== 'kvm') {
      expect(tcgCacheKiB(Number(info.details.pid))).toBeGreaterThan(47 * 1024);
      expect(tcgCacheKiB(Number(info.details.pid))).toBeLessThanOrEqual(48 * 1024);
    }

    const oldPid = info.details.pid;
    await driver.reboot(NAME, { wait: true });
    const after = await find(NAME);
    expect(after?.id).toBe(info.id + 1);
    expect(after?.details.pid).not.toBe(oldPid);
    expect(letters(after)).toBe('r');
  });

  it('powers off a guest told to shut down while it still boots (the lost press is repeated)', async () => {
    // xm reboot has just started a new QEMU: its kernel is not listening to the power button yet.
    tap = openConsoleTap(driver, NAME, path.join(work, 'console.txt'));
    const started = Date.now();
    await driver.shutdown(NAME, { wait: true });
    timings.shutdownWhileBooting = Date.now() - started;
    expect(await find(NAME)).toBeUndefined();
    await tap.ended;
    expect(tap.text()).toContain(GUEST_MARKER);
    expect(await pgrepName()).toEqual([]);
  });

  it("boots a guest created paused once unpaused, and hands back QEMU's initrd pages after the firmware read them", async () => {
    await driver.create(
      domainConfig({ name: NAME, bootloader: undefined, kernel, ramdisk: initrd, disks: [], vifs: [] }),
      { cfgPath: undefined, paused: true },
    );
    const info = await find(NAME);
    expect(letters(info)).toBe('p');
    tap = openConsoleTap(driver, NAME, path.join(work, 'console.txt'));
    await driver.unpause(NAME);
    // The marker comes from the initrd's init: the firmware had read the whole initrd by then.
    // unpause waited for that read and had QEMU's pages of it paged out: the mapping stays, empty.
    await tap.waitFor(new RegExp(GUEST_MARKER), BOOT_MS);
    expect(bootFilePages(Number(info?.details.pid))).toMatchObject({
      kernel: { rssKiB: 0 },
      initrd: { rssKiB: 0 },
    });
    expect(bootFilePages(Number(info?.details.pid)).initrd.mappings).toBeGreaterThan(0);
    await tap.detach();
    expect(letters(await find(NAME))).toBe('r');
  });

  it('destroys the guest and leaves no QEMU behind', async () => {
    expect(await pgrepName()).toHaveLength(1);
    await driver.destroy(NAME);
    expect(await find(NAME)).toBeUndefined();
    expect(await pgrepName()).toEqual([]);
    await expect(driver.destroy(NAME)).rejects.toThrow(`guest "${NAME}" is not running`);
  });
});

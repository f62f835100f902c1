import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLibvirtDriver, isLocalUri } from '../../../src/hypervisors/libvirt/driver.js';
import { schedFromVirsh, schedToVirsh } from '../../../src/hypervisors/libvirt/sched.js';
import { makePaths, type Paths } from '../../../src/paths.js';
import { domainConfig, vif } from '../qemu/fixtures.js';
import { listOutput, makeFakeVirsh, type FakeVirsh } from './fake-virsh.js';

const recorded = (name: string): string =>
  fs.readFileSync(path.join(import.meta.dirname, '../../tools/fixtures/virsh-9.0', name), 'utf8');

let fake: FakeVirsh;
let scratch: string;
let paths: Paths;
let kernel: string;

beforeEach(() => {
  fake = makeFakeVirsh();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-libvirt-driver-'));
  paths = makePaths(scratch);
  kernel = path.join(scratch, 'vmlinuz');
  fs.writeFileSync(kernel, 'kernel');
});
afterEach(() => {
  fake.cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const driverOn = (uri = 'qemu:///system') =>
  createLibvirtDriver({ paths, uri, virsh: { env: fake.virsh.env }, shutdownTimeoutMs: 5_000 });
const web1 = () =>
  domainConfig({
    bootloader: undefined,
    kernel,
    disks: [],
    vifs: [vif('00:16:3E:AA:BB:01')],
    memory: 192,
    maxmem: 256,
  });

describe('the libvirt driver over a fake virsh', () => {
  it("lists libvirt's running domains with their memory, vCPUs, state and CPU time", async () => {
    fake.reply('list', { out: recorded('list-all.out') });
    fake.reply('domstats', { out: recorded('domstats.out') });
    const [domain, ...rest] = await driverOn().list();
    expect(rest).toEqual([]);
    expect(domain).toMatchObject({
      name: 'xklv1',
      id: 10,
      memoryMiB: 256,
      maxMemoryMiB: 256,
      vcpus: 2,
      maxVcpus: 2,
      state: { running: false, paused: true },
      details: { driver: 'libvirt', uri: 'qemu:///system', libvirtState: 'paused' },
    });
    expect(domain?.cpuTimeSec).toBeCloseTo(2.08, 2);
  });

  it('defines the domain from the cfg (TCG: type qemu, the MAC kept) and starts it', async () => {
    fake.reply('list_--all', { out: listOutput([]) });
    fake.reply('list', { out: listOutput([['4', 'web1', 'running']]) });
    fake.reply('domstats', {
      out: "Domain: 'web1'\n  state.state=1\n  balloon.current=196608\n  vcpu.current=1\n",
    });
    const info = await driverOn().create(web1(), { cfgPath: '/etc/xen/web1.cfg' });
    expect(info).toMatchObject({ name: 'web1', id: 4, memoryMiB: 192, cfgPath: '/etc/xen/web1.cfg' });
    const xmlFile = path.join(paths.libDir, 'libvirt/web1/domain.xml');
    const xml = fs.readFileSync(xmlFile, 'utf8');
    expect(xml).toContain("<domain type='qemu'>");
    expect(xml).toContain("<mac address='00:16:3e:aa:bb:01'/>");
    expect(xml).toContain(`<kernel>${kernel}</kernel>`);
    expect(xml).toContain('<cmdline>root=/dev/xvda2 ro elevator=noop quiet console=ttyS0</cmdline>');
    expect(fake.calls().filter((c) => /define|start/.test(c))).toEqual([
      `--connect qemu:///system define ${xmlFile}`,
      '--connect qemu:///system start web1',
    ]);
  });

  it('refuses xenkit_tcg_cache for a TCG guest that can gain vCPUs (exit 2), before it writes or defines anything', async () => {
    fake.reply('list_--all', { out: listOutput([]) });
    const dc = { ...web1(), vcpus: 1, maxvcpus: 2, tcgCacheMiB: 48 };
    await expect(driverOn().create(dc, { cfgPath: '/etc/xen/web1.cfg' })).rejects.toMatchObject({
      code: 'E_XLCFG',
      kind: 'usage',
      message: expect.stringContaining('/etc/xen/web1.cfg: xenkit_tcg_cache = 48'),
    });
    expect(fs.existsSync(path.join(paths.libDir, 'libvirt/web1'))).toBe(false);
    expect(fake.calls().some((c) => / (define|start) /.test(c))).toBe(false);
  });

  it('undefines a domain it defined when libvirt cannot start it', async () => {
    fake.reply('list_--all', { out: listOutput([]) });
    fake.reply('start', { err: 'error: internal error: no QEMU\n', rc: 1 });
    await expect(driverOn().create(web1(), { cfgPath: undefined })).rejects.toMatchObject({
      code: 'E_VIRSH',
    });
    expect(fake.calls().at(-1)).toBe('--connect qemu:///system undefine web1');
  });

  it('puts back the definition libvirt had (same UUID) when the start fails', async () => {
    const before =
      '<domain type="qemu"><name>web1</name><uuid>fe27b9e7-426a-4745-88c2-8dc04f46083d</uuid></domain>\n';
    fake.reply('list_--all', { out: listOutput([['-', 'web1', 'shut off']]) });
    fake.reply('dumpxml', { out: before });
    fake.reply('start', { err: 'error: boom\n', rc: 1 });
    await expect(driverOn().create(web1(), { cfgPath: undefined })).rejects.toMatchObject({
      code: 'E_VIRSH',
    });
    const defines = fake.calls().filter((c) => c.includes(' define '));
    expect(defines).toHaveLength(2);
    expect(fake.calls().some((c) => c.includes('undefine'))).toBe(false);
    // The new definition kept libvirt's UUID, as a redefinition must.
    const xml = fs.readFileSync(path.join(paths.libDir, 'libvirt/web1/domain.xml'), 'utf8');
    expect(xml).toContain('<uuid>fe27b9e7-426a-4745-88c2-8dc04f46083d</uuid>');
  });

  it('refuses to start a domain libvirt already runs', async () => {
    fake.reply('list_--all', { out: listOutput([['3', 'web1', 'running']]) });
    await expect(driverOn().create(web1(), { cfgPath: undefined })).rejects.toMatchObject({
      code: 'E_DOMAIN_RUNNING',
    });
  });

  it("refuses to create on a remote URI (exit 2), where this host's image and kernel paths mean nothing", async () => {
    await expect(
      driverOn('qemu+ssh://node2/system').create(web1(), { cfgPath: undefined }),
    ).rejects.toMatchObject({
      code: 'E_UNSUPPORTED',
      kind: 'usage',
    });
    expect(fake.calls()).toEqual([]);
  });

  it('waits with shutdown -w until libvirt says shut off', async () => {
    fake.reply('domstate', { out: 'shut off\n' });
    await driverOn().shutdown('web1', { wait: true });
    expect(fake.calls()).toEqual([
      '--connect qemu:///system shutdown web1',
      '--connect qemu:///system domstate web1',
    ]);
  });

  it('gives up shutdown -w after the timeout with E_SHUTDOWN_TIMEOUT', async () => {
    fake.reply('domstate', { out: 'running\n' });
    await expect(driverOn().shutdown('web1', { wait: true, timeoutMs: 600 })).rejects.toMatchObject({
      code: 'E_SHUTDOWN_TIMEOUT',
    });
  });

  it('saves with virsh save (never over a file) and restores the domain the save image names', async () => {
    const driver = driverOn();
    const file = path.join(scratch, 'web1.save');
    await driver.save?.('web1', file);
    fs.writeFileSync(file, 'taken');
    await expect(driver.save?.('web1', file)).rejects.toMatchObject({ code: 'E_EXISTS', kind: 'usage' });
    fake.reply('save-image-dumpxml', { out: "<domain type='qemu'>\n  <name>web1</name>\n</domain>\n" });
    fake.reply('list', { out: listOutput([['7', 'web1', 'paused']]) });
    fake.reply('domstats', { out: "Domain: 'web1'\n  state.state=3\n" });
    expect(await driver.restore?.(file, { paused: true })).toMatchObject({ name: 'web1', id: 7 });
    expect(fake.calls().filter((c) => /save|restore/.test(c))).toEqual([
      `--connect qemu:///system save web1 ${file}`,
      `--connect qemu:///system save-image-dumpxml ${file}`,
      `--connect qemu:///system restore ${file} --paused`,
    ]);
  });

  it('maps vcpu-set, mem-set, pause, sysrq and autostart to virsh', async () => {
    const driver = driverOn();
    await driver.setVcpus('web1', 2);
    await driver.setMemory('web1', 200 * 1024 * 1024);
    await driver.pause('web1');
    await driver.unpause('web1');
    await driver.sysrq?.('web1', 'h');
    await driver.autostart?.set('web1', false);
    expect(fake.calls().map((c) => c.replace('--connect qemu:///system ', ''))).toEqual([
      'setvcpus web1 2 --live',
      'setmem web1 204800KiB --live',
      'suspend web1',
      'resume web1',
      'send-key web1 KEY_LEFTALT KEY_SYSRQ KEY_H',
      'autostart --disable web1',
    ]);
  });
});

describe('sched-credit under libvirt', () => {
  it('sets weight as cpu_shares (x4) and cap as a global quota per 100 ms', () => {
    expect(schedToVirsh({ weight: 512, cap: 50 })).toEqual({
      cpu_shares: '2048',
      global_period: '100000',
      global_quota: '50000',
    });
    expect(schedToVirsh({ cap: 0 })).toMatchObject({ global_quota: '17592186044415' });
  });

  it('reads them back, and no cap from -1', () => {
    expect(
      schedFromVirsh('web1', 'qemu:///system', {
        cpu_shares: '1024',
        global_period: '100000',
        global_quota: '-1',
      }),
    ).toEqual({
      weight: 256,
      cap: 0,
    });
    expect(
      schedFromVirsh('web1', 'qemu:///system', {
        cpu_shares: '2048',
        global_period: '100000',
        global_quota: '50000',
      }),
    ).toEqual({ weight: 512, cap: 50 });
  });

  it('says it is not supported where libvirt reports no CPU shares', () => {
    expect(() => schedFromVirsh('web1', 'qemu:///system', { Scheduler: 'posix' })).toThrow(
      expect.objectContaining({ code: 'E_UNSUPPORTED', kind: 'usage' }),
    );
  });
});

describe('isLocalUri', () => {
  it.each([
    ['qemu:///system', true],
    ['qemu:///session', true],
    ['qemu://localhost/system', true],
    ['qemu+ssh://node2/system', false],
    ['qemu+tcp://127.0.0.1/system', false],
    ['qemu://node2/system', false],
  ])('%s is local: %s', (uri, local) => {
    expect(isLocalUri(uri)).toBe(local);
  });
});

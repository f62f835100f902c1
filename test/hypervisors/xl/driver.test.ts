import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createXlDriver } from '../../../src/hypervisors/xl/driver.js';
import { makePaths } from '../../../src/paths.js';
import type { DomainConfig } from '../../../src/model/domain-config.js';
import { makeFakeXl, type FakeXl } from './fake-xl.js';

let fake: FakeXl;
const now = new Date('2024-05-01T12:00:00Z');
const driver = () => createXlDriver({ paths: makePaths('/'), xl: fake.xl, now: () => now });

beforeEach(() => {
  fake = makeFakeXl();
});
afterEach(() => fake.cleanup());

describe('the xl driver', () => {
  it('lists the guests from xl list, xl list -l and xl uptime, without Domain-0', async () => {
    const domains = await driver().list();
    expect(
      domains.map((d) => [d.name, d.id, d.memoryMiB, d.maxMemoryMiB, d.vcpus, d.maxVcpus, d.cpuTimeSec]),
    ).toEqual([
      ['test2', 5, 128, 256, 1, 2, 53.1],
      ['web', 7, 512, 1024, 2, 4, 0.4],
    ]);
    expect(domains[0]?.state).toMatchObject({ blocked: true, running: false });
    expect(domains[0]?.startedAt).toEqual(new Date(now.getTime() - 3725_000));
    expect(domains[0]?.details).toMatchObject({
      driver: 'xl',
      uuid: '5c7a1b2e-9d4f-4e2a-8b1c-3f6d7e8a9b0c',
      type: 'pv',
    });
    expect(fake.calls().sort()).toEqual(['list', 'list -l', 'uptime']);
  });

  it('still lists when xl uptime fails', async () => {
    fake.reply('uptime', { err: 'libxl: error: cannot get uptime\n', rc: 1 });
    const domains = await driver().list();
    expect(domains.map((d) => d.startedAt)).toEqual([undefined, undefined]);
  });

  it("takes Domain-0's row and xl info for the host", async () => {
    const host = await driver().hostInfo();
    expect(host).toMatchObject({ driver: 'xl', hostMemoryMiB: 1893, hostCpus: 2, hostCpuTimeSec: 4943.9 });
    expect(host.details).toMatchObject({ stateLetters: 'r-----', xenScheduler: 'credit2' });
  });

  it('creates a domain from its cfg with xl create [-p] and returns its row', async () => {
    const config = { name: 'web' } as DomainConfig;
    const domain = await driver().create(config, { cfgPath: '/etc/xen/web.cfg', paused: true });
    expect(fake.calls()[0]).toBe('create -p /etc/xen/web.cfg');
    expect(domain).toMatchObject({ name: 'web', id: 7, cfgPath: '/etc/xen/web.cfg' });
  });

  it('hands key=value settings to xl create after the cfg, which is how xl overrides its lines', async () => {
    const config = { name: 'web' } as DomainConfig;
    await driver().create(config, { cfgPath: '/etc/xen/web.cfg', overrides: ['memory=512', 'vcpus=2'] });
    expect(fake.calls()[0]).toBe('create /etc/xen/web.cfg memory=512 vcpus=2');
  });

  it('saves with xl save, never over an existing file, and restores with xl restore [-p]', async () => {
    const dir = fs.mkdtempSync(path.join(fake.dir, 'save-'));
    const file = path.join(dir, 'web.save');
    await driver().save!('web', file);
    expect(fake.calls()).toEqual([`save web ${file}`]);
    // The guest's memory: readable by root alone, whatever mode xl itself would give the file.
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    fs.writeFileSync(file, 'state');
    await expect(driver().save!('web', file)).rejects.toMatchObject({ code: 'E_EXISTS', kind: 'usage' });
    const restored = await driver().restore!(file, { paused: true });
    expect(fake.calls()).toContain(`restore -p ${file}`);
    // The fake lists the same domains before and after: the newest one stands for the restored.
    const newest = (await driver().list()).sort((a, b) => b.id - a.id)[0];
    expect(restored.id).toBe(newest?.id);
    fake.reply('restore', { err: 'xl: cannot restore\n', rc: 1 });
    await expect(driver().restore!(file, {})).rejects.toMatchObject({ code: 'E_XL' });
  });

  it('leaves no save file behind when xl save fails', async () => {
    const file = path.join(fs.mkdtempSync(path.join(fake.dir, 'save-')), 'web.save');
    fake.reply('save', { err: 'xl: domain did not suspend\n', rc: 1 });
    await expect(driver().save!('web', file)).rejects.toMatchObject({ code: 'E_XL' });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('sends a magic SysRq key with xl sysrq', async () => {
    await driver().sysrq!('web', 'h');
    expect(fake.calls()).toEqual(['sysrq web h']);
  });

  it('reports a domain that xl started but that is gone at once', async () => {
    const config = { name: 'crashy' } as DomainConfig;
    await expect(driver().create(config, { cfgPath: '/etc/xen/crashy.cfg' })).rejects.toMatchObject({
      code: 'E_XL_NOT_STARTED',
    });
  });

  it('refuses to create without a cfg file', async () => {
    await expect(
      driver().create({ name: 'x' } as DomainConfig, { cfgPath: undefined }),
    ).rejects.toMatchObject({
      code: 'E_XL_NEED_CFG',
      kind: 'usage',
    });
  });

  it.each([
    ['shutdown', (d: ReturnType<typeof driver>) => d.shutdown('test2', { wait: false }), 'shutdown test2'],
    ['reboot -w', (d: ReturnType<typeof driver>) => d.reboot('test2', { wait: true }), 'reboot -w test2'],
    ['destroy', (d: ReturnType<typeof driver>) => d.destroy('test2'), 'destroy test2'],
    ['pause', (d: ReturnType<typeof driver>) => d.pause('test2'), 'pause test2'],
    ['unpause', (d: ReturnType<typeof driver>) => d.unpause('test2'), 'unpause test2'],
    ['vcpu-set', (d: ReturnType<typeof driver>) => d.setVcpus('test2', 2), 'vcpu-set test2 2'],
    [
      'vcpu-set --ignore-host',
      (d: ReturnType<typeof driver>) => d.setVcpus('test2', 4, { ignoreHost: true }),
      'vcpu-set --ignore-host test2 4',
    ],
    [
      'mem-set',
      (d: ReturnType<typeof driver>) => d.setMemory('test2', 256 * 1024 * 1024),
      'mem-set test2 262144k',
    ],
  ])('runs xl %s', async (_label, act, expected) => {
    await act(driver());
    expect(fake.calls()).toEqual([expected]);
  });

  it("waits with shutdown -w until xl no longer lists the domain (its destruction follows xl's wait)", async () => {
    const listed = fs.readFileSync(path.join(fake.dir, 'list.out'), 'utf8');
    fake.reply('list', { out: listed.replace(/^test2 .*\n/m, '') });
    await createXlDriver({ paths: makePaths('/'), xl: fake.xl }).shutdown('test2', { wait: true });
    expect(fake.calls()).toEqual(['shutdown -w test2', 'list']);
  });

  it('gives up waiting for a domain that stays listed (on_poweroff=preserve) after goneWaitMs', async () => {
    const d = createXlDriver({ paths: makePaths('/'), xl: fake.xl, goneWaitMs: 600 });
    await d.shutdown('test2', { wait: true });
    const calls = fake.calls();
    expect(calls[0]).toBe('shutdown -w test2');
    expect(calls.slice(1).every((c) => c === 'list')).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(3);
  });

  it('uses sched-credit2 on a credit2 host, setting then reading back', async () => {
    const result = await driver().schedCredit('test2', { weight: 512 });
    expect(fake.calls()).toEqual(['info', 'sched-credit2 -d test2 -w 512', 'sched-credit2 -d test2']);
    expect(result).toEqual({ weight: 256, cap: 0 });
  });

  it('falls back to sched-credit when Xen runs the credit scheduler', async () => {
    const info = fs.readFileSync(path.join(fake.dir, 'info.out'), 'utf8');
    fake.reply('info', { out: info.replace('credit2', 'credit') });
    const result = await driver().schedCredit('test2', { weight: 512, cap: 50 });
    expect(fake.calls()).toEqual(['info', 'sched-credit -d test2 -w 512 -c 50', 'sched-credit -d test2']);
    expect(result).toEqual({ weight: 512, cap: 50 });
  });

  it("turns xl's failure into an error naming the command and keeping xl's words", async () => {
    fake.reply('destroy', { err: "Error: Domain 'ghost' does not exist.\n", rc: 1 });
    await expect(driver().destroy('ghost')).rejects.toMatchObject({
      code: 'E_XL',
      message: "xl destroy ghost failed: Error: Domain 'ghost' does not exist.",
    });
  });

  it('says when the host is not a Xen dom0', async () => {
    fake.reply('list', { err: "ERROR:  Can't find hypervisor information in sysfs!\n", rc: 1 });
    await expect(driver().list()).rejects.toMatchObject({
      code: 'E_XL_NO_XEN',
      hint: expect.stringContaining('--driver qemu'),
    });
  });

  it('does not fail list while another xl of it still runs', async () => {
    fake.reply('list', { err: "ERROR:  Can't find hypervisor information in sysfs!\n", rc: 1 });
    // `xl list -l` blocks on reading its reply (a FIFO) until the test writes it.
    const blocked = path.join(fake.dir, 'list_-l.out');
    fs.rmSync(blocked);
    execFileSync('mkfifo', [blocked]);
    let settled = false;
    const listing = driver()
      .list()
      .finally(() => (settled = true));
    while (!fake.calls().includes('list -l') || !fake.calls().includes('list')) await sleep(10);
    await sleep(200);
    expect(settled).toBe(false);
    fs.writeFileSync(blocked, '[]\n');
    await expect(listing).rejects.toMatchObject({ code: 'E_XL_NO_XEN' });
  });

  it('attaches the console with xl console', async () => {
    await driver().console('test2', { input: process.stdin, output: process.stdout, isTTY: false });
    expect(fake.calls()).toEqual(['console test2']);
  });
});

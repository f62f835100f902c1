import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLibvirtDriver } from '../../../src/hypervisors/libvirt/driver.js';
import { makePaths } from '../../../src/paths.js';
import { parseJobFigure } from '../../../src/tools/virsh.js';
import { listOutput, makeFakeVirsh, type FakeVirsh } from './fake-virsh.js';

let fake: FakeVirsh;
let scratch: string;
beforeEach(() => {
  fake = makeFakeVirsh();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-libvirt-migrate-'));
});
afterEach(() => {
  fake.cleanup();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('domjobinfo figures', () => {
  it.each([
    ['372          ms', 372],
    ['85.914 MiB', Math.round(85.914 * 1024 * 1024)],
    ['187772 B', 187772],
    ['2 GiB', 2 * 1024 ** 3],
    ['', undefined],
    [undefined, undefined],
    ['n/a', undefined],
  ])('%j is %j', (text, value) => {
    expect(parseJobFigure(text)).toBe(value);
  });
});

describe('migrate over a fake virsh', () => {
  const target = { uri: 'qemu+tcp://10.0.0.2/system', label: '"node2"' };
  const driver = () =>
    createLibvirtDriver({ paths: makePaths(scratch), uri: 'qemu:///system', virsh: { env: fake.virsh.env } });

  it('refuses a destination that has a domain of that name already, and never calls migrate', async () => {
    // The fake answers both hosts alike: the guest runs here and is listed there too.
    fake.reply('list', { out: listOutput([['3', 'web1', 'running']]) });
    fake.reply('domstats', {
      out: "Domain: 'web1'\n  state.state=1\n  balloon.current=262144\n  vcpu.current=1\n",
    });
    await expect(driver().migrate!('web1', target, { live: true })).rejects.toMatchObject({
      code: 'E_MIGRATE',
      kind: 'usage',
      message: expect.stringContaining('has a domain "web1" already'),
    });
    expect(fake.calls().some((c) => c.includes(' migrate '))).toBe(false);
  });

  it('says the guest still runs here when libvirt fails the migration', async () => {
    fake.reply('list', { out: listOutput([['3', 'web1', 'running']]) });
    fake.reply('list_--all', { out: listOutput([]) });
    fake.reply('domstats', {
      out: "Domain: 'web1'\n  state.state=1\n  balloon.current=262144\n  vcpu.current=1\n",
    });
    fake.reply('migrate', {
      err: 'error: internal error: unable to execute QEMU command: out of memory\n',
      rc: 1,
    });
    fake.reply('domstate_web1', { out: 'running\n\n' });
    const error = await driver().migrate!('web1', target, { live: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_MIGRATE', kind: 'runtime' });
    expect(String((error as Error).message)).toMatch(
      /to "node2" \(qemu\+tcp:\/\/10\.0\.0\.2\/system\) failed: .*out of memory.*still runs on qemu:\/\/\/system/,
    );
    expect(fake.calls()).toContainEqual(
      expect.stringMatching(
        /migrate --live --persistent --undefinesource web1 qemu\+tcp:\/\/10\.0\.0\.2\/system/,
      ),
    );
  });

  const running = (): void => {
    fake.reply('list', { out: listOutput([['3', 'web1', 'running']]) });
    fake.reply('list_--all', { out: listOutput([]) });
    fake.reply('domstats', {
      out: "Domain: 'web1'\n  state.state=1\n  balloon.current=262144\n  vcpu.current=1\n",
    });
    fake.reply('dominfo', {
      out: 'Name:           web1\nMax memory:     524288 KiB\nUsed memory:    262144 KiB\n',
    });
  };

  it('refuses a destination without the memory, naming it, and never calls migrate', async () => {
    running();
    fake.reply('nodememstats', {
      out: 'total  :   1000000 KiB\nfree   :     100000 KiB\nbuffers:      20000 KiB\ncached :     80000 KiB\n',
    });
    const error = await driver().migrate!('web1', target, { live: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_MIGRATE', kind: 'usage' });
    expect(String((error as Error).message)).toBe(
      'host "node2" (qemu+tcp://10.0.0.2/system) has 195 MiB of memory available; guest "web1" needs 512 MiB',
    );
    expect(fake.calls().some((c) => c.includes(' migrate '))).toBe(false);
  });

  describe('a disk the destination does not see', () => {
    const disk = '/var/lib/libvirt/images/web1-disk.img';
    const setUp = (): void => {
      running();
      fake.reply('nodememstats', { out: 'free   :   4000000 KiB\nbuffers:  0 KiB\ncached :  0 KiB\n' });
      fake.reply('dumpxml', {
        out: `<domain><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda'/></disk></devices></domain>\n`,
      });
      fake.reply('pool-list', { out: 'default\n\n' });
      fake.reply('pool-info', { out: 'Name:           default\nState:          running\n' });
      fake.reply('pool-dumpxml', {
        out: '<pool type="dir"><target><path>/var/lib/libvirt/images</path></target></pool>\n',
      });
      fake.reply('vol-info', {
        err: "error: failed to get vol 'web1-disk.img'\nerror: Storage volume not found: no storage vol with matching path\n",
        rc: 1,
      });
      fake.reply('domblkinfo', {
        out: 'Capacity:       1073741824\nAllocation:     200704\nPhysical:       196624\n',
      });
      fake.reply('domjobinfo', { out: 'Time elapsed:     8133 ms\nTotal downtime:   395 ms\n' });
    };

    it('is made there with its size and format and copied by libvirt (--copy-storage-all)', async () => {
      setUp();
      const report = await driver().migrate!('web1', target, { live: true });
      expect(report.copiedDisks).toEqual([disk]);
      expect(report).toMatchObject({ downtimeMs: 395, elapsedMs: 8133 });
      const calls = fake.calls();
      expect(calls).toContainEqual(
        expect.stringContaining('vol-create-as default web1-disk.img 1073741824b --format qcow2'),
      );
      expect(calls).toContainEqual(
        expect.stringContaining('migrate --live --copy-storage-all --persistent --undefinesource web1'),
      );
      expect(calls.some((c) => c.includes('vol-delete'))).toBe(false);
    });

    it('is deleted there again when the migration fails', async () => {
      setUp();
      fake.reply('migrate', { err: 'error: operation failed: migration job: unexpectedly failed\n', rc: 1 });
      fake.reply('domstate_web1', { out: 'running\n\n' });
      const error = await driver().migrate!('web1', target, { live: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'E_MIGRATE', kind: 'runtime' });
      expect(String((error as Error).message)).toContain('the guest still runs on qemu:///system');
      expect(fake.calls()).toContainEqual(expect.stringContaining('vol-delete --pool default web1-disk.img'));
    });

    it('is refused when a file of another size has its name there', async () => {
      setUp();
      fake.reply('vol-info', {
        out: 'Name:           web1-disk.img\nCapacity:       5000 bytes\nAllocation:     5000 bytes\n',
      });
      const error = await driver().migrate!('web1', target, { live: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'E_MIGRATE', kind: 'usage' });
      expect(String((error as Error).message)).toContain(
        `host "node2" (qemu+tcp://10.0.0.2/system) has a different ${disk}`,
      );
      expect(fake.calls().some((c) => c.includes('vol-create-as') || c.includes(' migrate '))).toBe(false);
    });
  });
});

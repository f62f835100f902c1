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
      /to "node2" failed: .*out of memory.*still runs on qemu:\/\/\/system/,
    );
    expect(fake.calls()).toContainEqual(
      expect.stringMatching(
        /migrate --live --persistent --undefinesource web1 qemu\+tcp:\/\/10\.0\.0\.2\/system/,
      ),
    );
  });
});

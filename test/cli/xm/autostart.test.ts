import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
let driver: FakeDriver;
let xenDir: string;
let autoDir: string;

function writeCfg(name: string): void {
  fs.writeFileSync(path.join(xenDir, `${name}.cfg`), `name = '${name}'\nmemory = '128'\n`);
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-auto-'));
  xenDir = path.join(root, 'etc/xen');
  autoDir = path.join(xenDir, 'auto');
  fs.mkdirSync(xenDir, { recursive: true });
  driver = new FakeDriver();
  for (const name of ['a', 'b', 'c']) writeCfg(name);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('xm autostart', () => {
  it('links /etc/xen/auto/NAME.cfg -> ../NAME.cfg with on, and removes it with off', async () => {
    const on = await runXm(driver, root, ['autostart', 'a', 'on']);
    expect(on.code).toBe(0);
    expect(fs.readlinkSync(path.join(autoDir, 'a.cfg'))).toBe('../a.cfg');
    expect(on.stdout).toContain('a: autostart on');
    const again = await runXm(driver, root, ['autostart', 'a', 'on']);
    expect(again.stdout).toContain('(unchanged)');
    const state = await runXm(driver, root, ['autostart', 'a', '--json']);
    expect(JSON.parse(state.stdout)).toEqual({ name: 'a', autostart: true });
    const off = await runXm(driver, root, ['autostart', 'a', 'off']);
    expect(off.code).toBe(0);
    expect(fs.existsSync(path.join(autoDir, 'a.cfg'))).toBe(false);
    expect(fs.existsSync(path.join(xenDir, 'a.cfg'))).toBe(true);
  });

  it('refuses a guest without a config, with exit 2', async () => {
    const run = await runXm(driver, root, ['autostart', 'ghost', 'on']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`domain "ghost": ${path.join(xenDir, 'ghost.cfg')} does not exist`);
    expect(fs.existsSync(path.join(autoDir, 'ghost.cfg'))).toBe(false);
  });

  it.each([
    [['autostart', 'a', 'maybe'], 'autostart state "maybe" is not on or off'],
    [['autostart', '../etc', 'on'], 'xm autostart: guest name "../etc" contains'],
  ])('rejects %j', async (args, message) => {
    const run = await runXm(driver, root, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('lists the autostart guests, flagging dangling links', async () => {
    await runXm(driver, root, ['autostart', 'a', 'on']);
    await runXm(driver, root, ['autostart', 'b', 'on']);
    fs.rmSync(path.join(xenDir, 'b.cfg'));
    const run = await runXm(driver, root, ['autostart']);
    expect(run.stdout).toBe(
      `${'a'.padEnd(33)} ${path.join(xenDir, 'a.cfg')}\n${'b'.padEnd(33)} ${path.join(xenDir, 'b.cfg')}  (missing: dangling link)\n`,
    );
    const none = await runXm(driver, root, ['autostart', 'b', 'off']);
    expect(none.code).toBe(0);
  });
});

describe('xm start --auto', () => {
  it('starts only the linked guests that are not running', async () => {
    await runXm(driver, root, ['autostart', 'a', 'on']);
    await runXm(driver, root, ['autostart', 'b', 'on']);
    driver.domains = [makeDomain({ name: 'b', id: 4 })];
    const run = await runXm(driver, root, ['start', '--auto']);
    expect(run.code).toBe(0);
    expect(driver.callLog()).toEqual(['create a']);
    expect(driver.calls[0]?.args[1]).toMatchObject({ cfgPath: path.join(xenDir, 'a.cfg') });
    expect(run.stdout).toBe('Started domain a (id=5)\nDomain b is already running\n');
  });

  it('goes on after a failure and exits 1 naming the guest', async () => {
    for (const name of ['a', 'b', 'c']) await runXm(driver, root, ['autostart', name, 'on']);
    driver.failOn.set('create', new Set(['b']));
    const run = await runXm(driver, root, ['start', '--auto']);
    expect(run.code).toBe(1);
    expect(driver.domains.map((d) => d.name)).toEqual(['a', 'c']);
    expect(run.stdout).toContain('Domain b failed to start: create b: simulated failure');
    expect(run.stderr).toContain('1 of 3 guests failed to start: b');
  });

  it('reports every guest as JSON', async () => {
    await runXm(driver, root, ['autostart', 'c', 'on']);
    const run = await runXm(driver, root, ['start', '--auto', '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      guests: [{ name: 'c', outcome: 'started', id: 1 }],
    });
  });

  it('starts named guests without --auto, and needs one or the other', async () => {
    const run = await runXm(driver, root, ['start', 'c']);
    expect(run.code).toBe(0);
    expect(driver.callLog()).toEqual(['create c']);
    const neither = await runXm(driver, root, ['start']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('start needs domain names or --auto');
  });
});

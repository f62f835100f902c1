import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
let driver: FakeDriver;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-life-'));
  driver = new FakeDriver();
  driver.domains = [makeDomain({ name: 'a', id: 3 }), makeDomain({ name: 'b', id: 7 })];
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('xm shutdown', () => {
  it('shuts one domain down, waiting with -w', async () => {
    const run = await runXm(driver, root, ['shutdown', '-w', 'a']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Domain a (id=3) has been shut down\n');
    expect(driver.calls).toEqual([{ method: 'shutdown', args: ['a', { wait: true, timeoutMs: undefined }] }]);
  });

  it('passes --timeout to the driver in milliseconds', async () => {
    await runXm(driver, root, ['shutdown', '-w', '--timeout', '30', 'a']);
    expect(driver.calls[0]?.args[1]).toEqual({ wait: true, timeoutMs: 30_000 });
  });

  it.each([['--all'], ['-a']])('shuts every running guest down with %s (host shutdown)', async (flag) => {
    const run = await runXm(driver, root, ['shutdown', flag, '-w']);
    expect(run.code).toBe(0);
    expect(driver.callLog().sort()).toEqual(['shutdown a', 'shutdown b']);
    expect(driver.domains).toEqual([]);
    expect(run.stdout).toBe('Shut down: a, b\n');
  });

  it('keeps shutting the others down when one fails, then reports it', async () => {
    driver.failOn.set('shutdown', new Set(['a']));
    const run = await runXm(driver, root, ['shutdown', '--all']);
    expect(run.code).toBe(1);
    expect(driver.domains.map((d) => d.name)).toEqual(['a']);
    expect(run.stderr).toContain('1 of 2 domains did not shut down: a: shutdown a: simulated failure');
  });

  it('says so when no guest is running', async () => {
    driver.domains = [];
    const run = await runXm(driver, root, ['shutdown', '--all', '--json']);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: true,
      action: 'shutdown',
      waited: false,
      domains: [],
      destroyed: [],
    });
  });

  it('destroys, with --destroy-after, a guest still running when the wait ends (host shutdown)', async () => {
    driver.failOn.set('shutdown', new Set(['a']));
    const run = await runXm(driver, root, ['shutdown', '--all', '-w', '--timeout', '5', '--destroy-after']);
    expect(run.code).toBe(0);
    expect(driver.callLog().sort()).toEqual(['destroy a', 'shutdown a', 'shutdown b']);
    expect(driver.domains).toEqual([]);
    expect(run.stdout).toBe('Shut down: b\nDestroyed (still running when the wait ended): a\n');
    const one = await runXm(new FakeDriver(), root, ['shutdown', 'a', '--destroy-after']);
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('--destroy-after needs --wait (-w)');
  });

  it.each([
    [['shutdown'], 'shutdown needs a domain name or --all'],
    [['shutdown', 'a', '--all'], 'give a domain name or --all, not both'],
    [['shutdown', '-w', '--timeout', 'soon', 'a'], '--timeout "soon" is not a number of seconds'],
  ])('rejects %j with exit 2', async (args, message) => {
    const run = await runXm(driver, root, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(driver.calls).toEqual([]);
  });
});

describe.each([
  ['reboot', 'Rebooting domain a (id=3)'],
  ['destroy', 'Destroyed domain a (id=3)'],
  ['pause', 'Paused domain a (id=3)'],
  ['unpause', 'Unpaused domain a (id=3)'],
])('xm %s', (verb, message) => {
  it('acts on a running domain', async () => {
    const run = await runXm(driver, root, [verb, 'a']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${message}\n`);
    expect(driver.calls[0]?.method).toBe(verb);
    expect(driver.calls[0]?.args[0]).toBe('a');
  });

  it('fails with the not-running error for an unknown domain', async () => {
    const run = await runXm(driver, root, [verb, 'zz']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no domain "zz" is running');
    expect(driver.calls).toEqual([]);
  });

  it('explains itself with --help', async () => {
    const run = await runXm(driver, root, [verb, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: xm ${verb}`);
    expect(run.stdout).toContain('--root <dir>');
    expect(run.stdout).toContain('--driver <name>');
  });
});

describe('xm reboot', () => {
  it('waits with -w', async () => {
    await runXm(driver, root, ['reboot', '-w', 'b']);
    expect(driver.calls[0]).toEqual({ method: 'reboot', args: ['b', { wait: true, timeoutMs: undefined }] });
  });
});

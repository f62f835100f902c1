/**
 * Saving guests at host shutdown and restoring them at boot (xendomains' XENDOMAINS_SAVE):
 * `xm shutdown --auto` as xenkit.conf's on_host_shutdown says, `xm save --all [DIR]`, and the
 * restore pass of `xm start --auto`, over the fake driver.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
let driver: FakeDriver;
let saveDir: string;

function writeConf(text: string): void {
  fs.mkdirSync(path.join(root, 'etc/xenkit'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/xenkit/xenkit.conf'), text);
}

function writeAutoCfg(name: string): void {
  fs.mkdirSync(path.join(root, 'etc/xen/auto'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/xen', `${name}.cfg`), `name = '${name}'\n`);
  fs.symlinkSync(`../${name}.cfg`, path.join(root, 'etc/xen/auto', `${name}.cfg`));
}

const running = (): string[] => driver.domains.map((d) => d.name).sort();

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-hostsave-'));
  saveDir = path.join(root, 'var/lib/xenkit/save');
  driver = new FakeDriver();
  driver.nextId = 10;
  driver.domains = [makeDomain({ name: 'a', id: 3 }), makeDomain({ name: 'b', id: 7 })];
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('xm shutdown --auto (the unit stop command)', () => {
  it('shuts every guest down, waiting and destroying after the timeout, when xenkit.conf says nothing', async () => {
    const run = await runXm(driver, root, ['shutdown', '--auto', '--timeout', '120']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Shut down: a, b\n');
    expect(driver.calls.map((c) => c.args[1])).toEqual([
      { wait: true, timeoutMs: 120_000 },
      { wait: true, timeoutMs: 120_000 },
    ]);
    expect(fs.existsSync(saveDir)).toBe(false);
  });

  it('saves every guest to /var/lib/xenkit/save with on_host_shutdown = save, in a 0700 directory', async () => {
    writeConf('on_host_shutdown = save\n');
    const run = await runXm(driver, root, ['shutdown', '--auto', '--timeout', '120']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Saved to ${saveDir}: a, b\n`);
    expect(driver.callLog()).toEqual([`save a ${saveDir}/a.save`, `save b ${saveDir}/b.save`]);
    expect(fs.statSync(saveDir).mode & 0o777).toBe(0o700);
    expect(running()).toEqual([]);
  });

  it('shuts down a guest that cannot be saved, and says so with the reason', async () => {
    writeConf('on_host_shutdown = save\n');
    driver.failOn.set('save', new Set(['b']));
    const run = await runXm(driver, root, ['shutdown', '--auto', '--timeout', '5', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      ok: true,
      action: 'save',
      dir: saveDir,
      saved: [{ name: 'a', file: `${saveDir}/a.save` }],
      unsaved: [{ name: 'b', reason: 'save b: simulated failure', outcome: 'shut down' }],
    });
    expect(driver.callLog()).toContain('shutdown b');
    expect(running()).toEqual([]);
  });

  it('destroys a guest that can be neither saved nor shut down in time', async () => {
    writeConf('on_host_shutdown = save\n');
    driver.failOn.set('save', new Set(['a']));
    driver.failOn.set('shutdown', new Set(['a']));
    const run = await runXm(driver, root, ['shutdown', '--auto']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `Saved to ${saveDir}: b\n` +
        'Domain a could not be saved (save a: simulated failure): destroyed (still running when the wait ended)\n',
    );
  });

  it('saves to save_dir of xenkit.conf, under the root', async () => {
    writeConf('on_host_shutdown = save\nsave_dir = /srv/saved\n');
    const run = await runXm(driver, root, ['shutdown', '--auto']);
    expect(run.code).toBe(0);
    expect(fs.readdirSync(path.join(root, 'srv/saved')).sort()).toEqual(['a.save', 'b.save']);
  });

  it.each([
    [
      'on_host_shutdown = hibernate\n',
      'xenkit.conf:1: on_host_shutdown "hibernate" is neither shutdown nor save',
    ],
    ['save_dir = relative/dir\n', 'xenkit.conf:1: save_dir "relative/dir" is not an absolute path'],
  ])('refuses a bad xenkit.conf value (%j) with exit 2, touching no guest', async (conf, message) => {
    writeConf(conf);
    const run = await runXm(driver, root, ['shutdown', '--auto']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(driver.calls).toEqual([]);
  });

  it.each([
    [['shutdown', '--auto', 'a'], '--auto takes neither a domain name nor --all'],
    [['save', '--all', 'x', 'y'], 'save --all takes one directory'],
    [['save', 'a'], 'save needs a domain name and a file, or --all'],
    [['save', 'a', 'f', '--timeout', '3'], '--timeout goes with --all'],
  ])('refuses %j with exit 2', async (args, message) => {
    const run = await runXm(driver, root, args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(driver.calls).toEqual([]);
  });
});

describe('xm save --all [DIR]', () => {
  it('saves every guest into the directory given', async () => {
    const dir = path.join(root, 'elsewhere');
    const run = await runXm(driver, root, ['save', '--all', dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`Saved to ${dir}: a, b\n`);
    expect(fs.readdirSync(dir).sort()).toEqual(['a.save', 'b.save']);
  });

  it('explains itself in --help', async () => {
    const run = await runXm(driver, root, ['save', '--help']);
    expect(run.stdout).toContain('--all');
    expect(run.stdout).toMatch(/shut\s+down\s+instead/);
  });
});

describe('xm start --auto restores the saved guests first', () => {
  it('restores each save file, removes it, and starts only the autostart guests still down', async () => {
    writeConf('on_host_shutdown = save\n');
    writeAutoCfg('a');
    writeAutoCfg('c');
    expect((await runXm(driver, root, ['shutdown', '--auto'])).code).toBe(0);
    const run = await runXm(driver, root, ['start', '--auto']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `Restored domain a (id=10) from ${saveDir}/a.save\n` +
        `Restored domain b (id=11) from ${saveDir}/b.save\n` +
        'Domain a is already running\n' +
        'Started domain c (id=12)\n',
    );
    expect(running()).toEqual(['a', 'b', 'c']);
    expect(fs.readdirSync(saveDir)).toEqual([]);
  });

  it('keeps a file that fails to restore out of the next boot, boots an autostart guest afresh, exits 1', async () => {
    writeConf('on_host_shutdown = save\n');
    writeAutoCfg('a');
    expect((await runXm(driver, root, ['shutdown', '--auto'])).code).toBe(0);
    driver.failOn.set('restore', new Set([`${saveDir}/a.save`, `${saveDir}/b.save`]));
    const run = await runXm(driver, root, ['start', '--auto', '--json']);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).toContain('2 of 2 saved guests failed to restore: a, b');
    // a is an autostart guest: it boots from its cfg; b is not, and stays down.
    expect(driver.callLog().filter((c) => c.startsWith('create'))).toEqual(['create a']);
    expect(running()).toEqual(['a']);
    const kept = fs.readdirSync(saveDir).sort();
    expect(kept).toEqual([
      expect.stringMatching(/^a\.save\.failed-\d{8}T\d{6}Z$/),
      expect.stringMatching(/^b\.save\.failed-/),
    ]);
    // The next boot restores nothing.
    driver.domains = [];
    driver.calls.length = 0;
    const again = await runXm(driver, root, ['start', '--auto']);
    expect(again.code).toBe(0);
    expect(driver.callLog()).toEqual(['create a']);
  });

  it('does not restore a save file over a guest of that name that is running', async () => {
    fs.mkdirSync(saveDir, { recursive: true });
    fs.writeFileSync(path.join(saveDir, 'a.save'), JSON.stringify({ fakeSave: 'a' }));
    const run = await runXm(driver, root, ['start', '--auto']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `Domain a failed to restore from ${saveDir}/a.save: a domain "a" is running already`,
    );
    expect(driver.callLog()).toEqual([]);
  });
});

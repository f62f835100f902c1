import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCfgArg } from '../../../src/cli/xm/create.js';
import { makePaths } from '../../../src/paths.js';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
let driver: FakeDriver;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-create-'));
  driver = new FakeDriver();
  fs.mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/xen/test2.cfg'), "name = 'test2'\nmemory = '128'\n");
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('xm create', () => {
  it.each([['test2'], ['test2.cfg'], ['/etc/xen/test2.cfg']])('finds the config from "%s"', async (arg) => {
    const run = await runXm(driver, root, ['create', arg]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `Using config file "${path.join(root, 'etc/xen/test2.cfg')}".\nStarted domain test2 (id=1)\n`,
    );
    expect(driver.calls[0]).toMatchObject({ method: 'create', args: ['test2', { paused: false }] });
  });

  it('takes a config path relative to the working directory', async () => {
    const paths = makePaths(root);
    const cfg = path.join(root, 'elsewhere.cfg');
    fs.writeFileSync(cfg, "name = 'other'\n");
    expect(await resolveCfgArg(paths, path.relative(process.cwd(), cfg))).toBe(cfg);
  });

  it('starts paused with -p and attaches the console with -c', async () => {
    const run = await runXm(driver, root, ['create', '-c', '-p', 'test2']);
    expect(run.code).toBe(0);
    expect(driver.callLog()).toEqual(['create test2', 'console test2']);
    expect(driver.calls[0]?.args[1]).toMatchObject({ paused: true });
    expect(run.stdout).toContain('paused: `xm unpause test2` runs it');
    expect(run.stdout).toContain('[console of test2]');
  });

  it('refuses a missing config with exit 2 and says where it looked', async () => {
    const run = await runXm(driver, root, ['create', 'ghost']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`no domain config "ghost": tried`);
    expect(run.stderr).toContain(path.join(root, 'etc/xen/ghost.cfg'));
    expect(run.stderr).toContain('xen-create-image --hostname=ghost');
    expect(driver.calls).toEqual([]);
  });

  it('refuses to start a domain that is already running', async () => {
    driver.domains = [makeDomain({ name: 'test2', id: 4 })];
    const run = await runXm(driver, root, ['create', 'test2']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('domain "test2" is already running (id 4)');
    expect(driver.calls).toEqual([]);
  });

  it('prints the started domain as JSON', async () => {
    const run = await runXm(driver, root, ['create', 'test2', '--json']);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      action: 'create',
      domain: { name: 'test2', id: 1 },
    });
  });
});

describe('xm console', () => {
  it('attaches to a running domain', async () => {
    driver.domains = [makeDomain({ name: 'test2', id: 4 })];
    const run = await runXm(driver, root, ['console', 'test2']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('[console of test2]\n');
  });

  it('says the domain is not running, with the hints', async () => {
    const run = await runXm(driver, root, ['console', 'test2']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'xm: error: no domain "test2" is running\n  hint: `xm list` shows the running domains; `xm create test2` starts it\n',
    );
  });
});

describe('xm create with the real xl.cfg parser', () => {
  it("starts the seed's xen-tools config", async () => {
    fs.writeFileSync(
      path.join(root, 'etc/xen/test2.cfg'),
      [
        "kernel      = '/boot/vmlinuz-2.6.26-2-xen-686'",
        "ramdisk     = '/boot/initrd.img-2.6.26-2-xen-686'",
        "vcpus       = '1'",
        "memory      = '128'",
        "root        = '/dev/xvda2 ro'",
        'disk        = [',
        "                  'tap:aio:/home/xen/domains/test2/disk.img,xvda2,w',",
        "                  'tap:aio:/home/xen/domains/test2/swap.img,xvda1,w',",
        '              ]',
        "name        = 'test2'",
        "vif         = [ 'ip=192.0.2.10,mac=00:16:3E:00:00:01' ]",
        "on_poweroff = 'destroy'",
        "on_reboot   = 'restart'",
        "on_crash    = 'restart'",
        '',
      ].join('\n'),
    );
    const run = await runXm(driver, root, ['create', 'test2'], { parseConfig: undefined });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('Started domain test2 (id=1)');
    // Named, as `xl list test2`: the header and that domain only; Domain-0 when it is named too.
    const listed = await runXm(driver, root, ['list', 'test2']);
    const row = `${'test2'.padEnd(40)}     1   128     1     r-----       0.0`;
    expect(listed.stdout.split('\n').slice(1)).toEqual([row, '']);
    const withHost = await runXm(driver, root, ['list', 'Domain-0', 'test2']);
    expect(withHost.stdout.split('\n').map((line) => line.split(' ')[0])).toEqual([
      'Name',
      'Domain-0',
      'test2',
      '',
    ]);
  });

  it('reads key=value settings after the file, as xl create does; -n prints the domain and starts nothing', async () => {
    fs.writeFileSync(path.join(root, 'etc/xen/test2.cfg'), "name = 'test2'\nmemory = '128'\nvcpus = '1'\n");
    const dry = await runXm(driver, root, ['create', '-n', 'test2', 'memory=512', "extra='quiet'"], {
      parseConfig: undefined,
    });
    expect(dry.code).toBe(0);
    const shown = JSON.parse(dry.stdout) as {
      cfgPath: string;
      config: { memory: number; vcpus: number; cmdline?: string };
    };
    expect(shown.cfgPath).toBe(path.join(root, 'etc/xen/test2.cfg'));
    expect(shown.config).toMatchObject({ memory: 512, vcpus: 1 });
    expect(driver.calls).toEqual([]);
    const run = await runXm(driver, root, ['create', 'test2', 'vcpus=2'], { parseConfig: undefined });
    expect(run.code).toBe(0);
    expect(driver.domains.find((d) => d.name === 'test2')?.vcpus).toBe(2);
  });

  it.each([
    [['create', 'test2', 'memory'], '"memory" is not a key=value setting'],
    [['create', 'test2', 'memory=[1,'], 'test2.cfg with memory=[1,'],
  ])('refuses %j with exit 2 and starts nothing', async (args, message) => {
    fs.writeFileSync(path.join(root, 'etc/xen/test2.cfg'), "name = 'test2'\nmemory = '128'\n");
    const run = await runXm(driver, root, args, { parseConfig: undefined });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(driver.calls).toEqual([]);
  });
});

describe('guest names that would be paths', () => {
  it('refuses a cfg whose name climbs out of the runtime directory, with exit 2, before the driver runs', async () => {
    const victim = path.join(root, 'victim');
    fs.mkdirSync(victim);
    fs.writeFileSync(path.join(victim, 'keep'), 'data\n');
    const cfg = path.join(root, 'etc/xen/evil.cfg');
    fs.writeFileSync(cfg, "name = '../../../victim'\nmemory = '128'\n");
    const run = await runXm(driver, root, ['create', 'evil']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`xm: error: ${cfg}: guest name "../../../victim" contains '/'`);
    expect(run.stderr).toContain('hint:');
    expect(driver.calls).toEqual([]);
    expect(fs.readFileSync(path.join(victim, 'keep'), 'utf8')).toBe('data\n');
  });

  it.each([
    ['destroy', '../../etc'],
    ['shutdown', '..'],
    ['console', 'a/b'],
    ['pause', '.hidden'],
    ['mem-set', '-x', '256M'],
    ['autostart', '../x', 'off'],
  ])('xm %s refuses the guest name "%s" with exit 2, naming the verb', async (verb, name, ...rest) => {
    const run = await runXm(driver, root, [verb, '--', name, ...rest]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`xm: error: xm ${verb}: guest name ${JSON.stringify(name)}`);
    expect(driver.calls).toEqual([]);
  });
});

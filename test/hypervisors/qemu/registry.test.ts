import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEventLog } from '../../../src/hypervisors/qemu/event-log.js';
import {
  findQemuProcesses,
  openRegistry,
  type DomainRecord,
} from '../../../src/hypervisors/qemu/registry.js';
import type { LogEvent } from '../../../src/log/events.js';
import { makePaths, type Paths } from '../../../src/paths.js';
import { domainConfig } from './fixtures.js';

let root: string;
let paths: Paths;
const children: ChildProcess[] = [];

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'xenkit-registry-'));
  paths = makePaths(root);
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** A live process whose command line looks like QEMU's (argv0), standing in for a guest. */
function fakeQemuPid(): number {
  const child = spawn('sleep', ['60'], { argv0: 'qemu-system-x86_64', stdio: 'ignore' });
  children.push(child);
  return child.pid ?? -1;
}

/**
 * A live process whose argv is that of a QEMU started by the driver for guest `name` under
 * `paths` (`-name NAME,... -pidfile stateDir/qemu/NAME/qemu.pid`): a shell that sleeps.
 */
function fakeGuestQemu(name: string, nameArg = `${name},debug-threads=on`): number {
  const pidfile = path.join(paths.stateDir, 'qemu', name, 'qemu.pid');
  const child = spawn('sh', ['-c', 'sleep 60; :', '-name', nameArg, '-S', '-pidfile', pidfile], {
    argv0: 'qemu-system-x86_64',
    stdio: 'ignore',
  });
  children.push(child);
  return child.pid ?? -1;
}

function record(name: string, id: number, pid: number): DomainRecord {
  return {
    id,
    name,
    pid,
    cfgPath: `/etc/xen/${name}.cfg`,
    startedAt: '2024-01-01T00:00:00.000Z',
    argv: ['qemu-system-x86_64'],
    accel: { kind: 'tcg', reason: 'test' },
    taps: [],
    resetsSeen: 0,
    config: domainConfig({ name }),
    kernel: undefined,
    initrd: undefined,
  };
}

const event = (name: string, data: Record<string, unknown>, seconds: number): string =>
  JSON.stringify({ timestamp: { seconds, microseconds: 0 }, event: name, data }) + '\n';

describe('openRegistry', () => {
  it('hands out domain IDs from 1, unique under concurrency, and keeps the counter in libDir', async () => {
    const registry = openRegistry(paths);
    const ids = await Promise.all(Array.from({ length: 8 }, () => registry.allocateId()));
    expect([...ids].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(readFileSync(path.join(paths.libDir, 'next-domid'), 'utf8')).toBe('9\n');
    expect(await openRegistry(paths).allocateId()).toBe(9);
  });

  it('lists live guests by ID and drops an entry whose QEMU is gone', async () => {
    const stale: string[] = [];
    const registry = openRegistry(paths, { onStale: (r) => stale.push(r.name) });
    registry.save(record('b', 5, fakeQemuPid()));
    registry.save(record('a', 7, fakeQemuPid()));
    registry.save(record('gone', 3, 999_999_999));
    expect((await registry.list()).map((r) => [r.name, r.id])).toEqual([
      ['b', 5],
      ['a', 7],
    ]);
    expect(stale).toEqual(['gone']);
    expect(existsSync(registry.runtimePaths('gone').dir)).toBe(false);
  });

  it('does not count a live process that is not QEMU as the guest', async () => {
    const registry = openRegistry(paths);
    registry.save(record('web1', 1, process.pid));
    expect(await registry.read('web1')).toBeUndefined();
  });

  it('gives a guest one new ID per reboot it did itself (a burst of resets is one reboot), once', async () => {
    const registry = openRegistry(paths);
    await registry.allocateId();
    registry.save(record('web1', 1, fakeQemuPid()));
    const rt = registry.runtimePaths('web1');
    writeFileSync(rt.eventsOut, '{"QMP": {}}\n{"return": {}}\n' + event('RESUME', {}, 100));
    expect((await registry.read('web1'))?.id).toBe(1);

    appendFileSync(
      rt.eventsOut,
      event('RESET', { guest: false, reason: 'host-qmp-system-reset' }, 150) +
        event('RESET', { guest: true, reason: 'guest-reset' }, 200) +
        event('RESET', { guest: true, reason: 'guest-reset' }, 200.2) +
        event('RESET', { guest: true, reason: 'guest-reset' }, 200.5) +
        event('RESET', { guest: true, reason: 'guest-reset' }, 300),
    );
    const after = await registry.read('web1');
    expect(after?.id).toBe(3);
    expect(after?.resetsSeen).toBe(2);
    expect(after?.startedAt).toBe(new Date(300_000).toISOString());
    expect((await registry.read('web1'))?.id).toBe(3);
    expect(await registry.allocateId()).toBe(4);
  });
});

describe('guest names in the registry', () => {
  it.each(['../../../victim', '..', 'a/b', '.hidden', ''])(
    'refuses the name %j in read, save, remove and runtimePaths, touching nothing',
    async (name) => {
      const victim = path.join(root, 'victim');
      mkdirSync(victim, { recursive: true });
      writeFileSync(path.join(victim, 'keep'), 'data\n');
      const registry = openRegistry(paths);
      await expect(registry.read(name)).rejects.toMatchObject({ code: 'E_GUEST_NAME' });
      expect(() => registry.remove(name)).toThrow(/guest name/);
      expect(() => registry.save(record(name, 1, 1))).toThrow(/guest name/);
      expect(() => registry.runtimePaths(name)).toThrow(/guest name/);
      expect(readFileSync(path.join(victim, 'keep'), 'utf8')).toBe('data\n');
    },
  );

  it('lists past directory entries that are not guest names', async () => {
    const registry = openRegistry(paths);
    registry.save(record('web1', 1, fakeQemuPid()));
    const stray = path.join(paths.stateDir, 'qemu', '.stray');
    mkdirSync(stray);
    writeFileSync(path.join(stray, 'domain.json'), JSON.stringify(record('web2', 2, fakeQemuPid())));
    expect((await registry.list()).map((r) => r.name)).toEqual(['web1']);
    expect(existsSync(stray)).toBe(true);
  });

  it('keeps the runtime base 0700 and its parent 0755', () => {
    mkdirSync(path.join(paths.stateDir, 'qemu'), { recursive: true, mode: 0o777 });
    openRegistry(paths).save(record('web1', 1, 1));
    expect(statSync(path.join(paths.stateDir, 'qemu')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(paths.stateDir, 'qemu', 'web1')).mode & 0o777).toBe(0o700);
  });
});

describe('QEMUs whose xm died', () => {
  const warnings = (events: LogEvent[]): string[] =>
    events.flatMap((e) => (e.type === 'warn' ? [e.message] : []));

  it('adopts a QEMU found by its pidfile when the launcher died after saving the provisional record', async () => {
    const events: LogEvent[] = [];
    const registry = openRegistry(paths, { sink: (e) => events.push(e) });
    const pid = fakeGuestQemu('web1');
    registry.save({ ...record('web1', 4, 0), launcherPid: 999_999_999 });
    writeFileSync(registry.runtimePaths('web1').pidfile, `${pid}\n`);
    const adopted = await registry.read('web1');
    expect(adopted).toMatchObject({ name: 'web1', id: 4, pid, cfgPath: '/etc/xen/web1.cfg' });
    expect(adopted?.launcherPid).toBeUndefined();
    expect(adopted?.adoptedAt).toBeDefined();
    expect(warnings(events)).toEqual([
      expect.stringMatching(/guest "web1": adopted QEMU pid \d+ \(ID 4\), found by its pidfile/),
    ]);
    // Saved: the next read finds the record as it is, without a second warning.
    expect((await openRegistry(paths).read('web1'))?.pid).toBe(pid);
    expect((await registry.list()).map((r) => r.name)).toEqual(['web1']);
    expect(warnings(events)).toHaveLength(1);
  });

  it('finds a QEMU of ours in /proc when its record and pidfile are gone, and rebuilds the record', async () => {
    const events: LogEvent[] = [];
    const registry = openRegistry(paths, { sink: (e) => events.push(e) });
    const pid = fakeGuestQemu('web1', 'guest=web1,debug-threads=on');
    fakeGuestQemu('other-root-guest', 'someone-else');
    expect(findQemuProcesses(paths, 'web1').map((p) => p.pid)).toEqual([pid]);
    const listed = await registry.list();
    expect(listed).toMatchObject([{ name: 'web1', pid, id: 1 }]);
    expect(listed[0]?.config.name).toBe('web1');
    expect(warnings(events)[0]).toMatch(/found by its command line in \/proc with no record/);
    expect(existsSync(registry.runtimePaths('web1').record)).toBe(true);
  });

  it('does not adopt a QEMU whose pidfile is outside our runtime directory or whose -name differs', async () => {
    const registry = openRegistry(paths);
    const elsewhere = spawn('sh', ['-c', 'sleep 60; :', '-name', 'web1', '-pidfile', '/tmp/qemu.pid'], {
      argv0: 'qemu-system-x86_64',
      stdio: 'ignore',
    });
    children.push(elsewhere);
    fakeGuestQemu('web2', 'web3');
    expect(await registry.list()).toEqual([]);
    expect(findQemuProcesses(paths)).toEqual([]);
  });

  it('leaves a provisional record alone while its launcher lives, and cleans it once the launcher is gone', async () => {
    const registry = openRegistry(paths);
    registry.save({ ...record('web1', 1, 0), launcherPid: process.pid });
    expect(await registry.read('web1')).toBeUndefined();
    expect(existsSync(registry.runtimePaths('web1').record)).toBe(true);
    registry.save({ ...record('web1', 1, 0), launcherPid: 999_999_999 });
    expect(await registry.read('web1')).toBeUndefined();
    expect(existsSync(registry.runtimePaths('web1').dir)).toBe(false);
  });

  it('ends the passt of a guest whose launcher died before QEMU started', async () => {
    const registry = openRegistry(paths);
    registry.save({ ...record('web1', 1, 0), launcherPid: 999_999_999 });
    const rt = registry.runtimePaths('web1');
    const passt = spawn('sh', ['-c', 'sleep 60; :', '--socket', `${rt.dir}/net0.sock`], {
      argv0: 'passt',
      stdio: 'ignore',
    });
    children.push(passt);
    const exited = new Promise((resolve) => passt.on('exit', (_code, signal) => resolve(signal)));
    writeFileSync(`${rt.dir}/passt0.pid`, `${passt.pid}\n`);
    expect(await registry.read('web1')).toBeUndefined();
    expect(await exited).toBe('SIGTERM');
    expect(existsSync(rt.dir)).toBe(false);
  });

  it('shows a starting guest with its QEMU pid while the launcher still completes the record', async () => {
    const events: LogEvent[] = [];
    const registry = openRegistry(paths, { sink: (e) => events.push(e) });
    const pid = fakeGuestQemu('web1');
    registry.save({ ...record('web1', 1, 0), launcherPid: process.pid });
    writeFileSync(registry.runtimePaths('web1').pidfile, `${pid}\n`);
    expect((await registry.read('web1'))?.pid).toBe(pid);
    expect(JSON.parse(readFileSync(registry.runtimePaths('web1').record, 'utf8'))).toMatchObject({ pid: 0 });
    expect(events).toEqual([]);
  });
});

describe('parseEventLog', () => {
  it('keeps events, skips the greeting, answers and a half-written last line', () => {
    const text = '{"QMP": {}}\r\n{"return": {}}\r\n' + event('STOP', {}, 5) + '{"timestamp": {"sec';
    expect(parseEventLog(text)).toEqual([{ event: 'STOP', data: {}, timestamp: 5 }]);
  });
});

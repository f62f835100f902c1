import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseEventLog } from '../../../src/hypervisors/qemu/event-log.js';
import { openRegistry, type DomainRecord } from '../../../src/hypervisors/qemu/registry.js';
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

describe('parseEventLog', () => {
  it('keeps events, skips the greeting, answers and a half-written last line', () => {
    const text = '{"QMP": {}}\r\n{"return": {}}\r\n' + event('STOP', {}, 5) + '{"timestamp": {"sec';
    expect(parseEventLog(text)).toEqual([{ event: 'STOP', data: {}, timestamp: 5 }]);
  });
});

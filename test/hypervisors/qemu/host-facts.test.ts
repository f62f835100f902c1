import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  applySched,
  capToQuotaUs,
  findCpuCgroup,
  weightToCpuShares,
  weightToCpuWeight,
} from '../../../src/hypervisors/qemu/cgroup-sched.js';
import { stateFromRunState } from '../../../src/hypervisors/qemu/domain-info.js';
import {
  parseBusyCpuSeconds,
  parseMemTotalMiB,
  parseStatCpuSeconds,
  readGuestCpuSeconds,
} from '../../../src/hypervisors/qemu/proc-stats.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'xenkit-host-'));
  dirs.push(d);
  return d;
}

describe('xl weight and cap on cgroups', () => {
  it.each([
    [256, 100, 1024],
    [512, 200, 2048],
    [1, 1, 4],
    [65535, 10000, 262140],
  ])('maps weight %i to cpu.weight %i and cpu.shares %i', (weight, v2, v1) => {
    expect(weightToCpuWeight(weight)).toBe(v2);
    expect(weightToCpuShares(weight)).toBe(v1);
  });

  it.each([
    [0, undefined],
    [50, 50000],
    [200, 200000],
  ])('maps cap %i%% to a quota of %s µs per 100 ms', (cap, quota) => {
    expect(capToQuotaUs(cap)).toBe(quota);
  });

  it('finds cgroup v2 with the cpu controller, else the v1 cpu hierarchy, else nothing', () => {
    const v2 = scratch();
    writeFileSync(path.join(v2, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    expect(findCpuCgroup(v2)).toEqual({ version: 2, dir: v2 });
    const hybrid = scratch();
    mkdirSync(path.join(hybrid, 'unified'));
    writeFileSync(path.join(hybrid, 'unified/cgroup.controllers'), 'hugetlb\n');
    mkdirSync(path.join(hybrid, 'cpu'));
    writeFileSync(path.join(hybrid, 'cpu/cpu.shares'), '1024\n');
    expect(findCpuCgroup(hybrid)).toEqual({ version: 1, dir: path.join(hybrid, 'cpu') });
    expect(findCpuCgroup(scratch())).toBeUndefined();
  });

  it('writes the v2 files of xenkit/NAME after enabling the cpu controller on the way down', () => {
    const root = scratch();
    writeFileSync(path.join(root, 'cgroup.subtree_control'), '');
    mkdirSync(path.join(root, 'xenkit'));
    writeFileSync(path.join(root, 'xenkit/cgroup.subtree_control'), '');
    const dir = applySched({ version: 2, dir: root }, 'web1', 4242, 512, 50);
    expect(dir).toBe(path.join(root, 'xenkit/web1'));
    const read = (f: string): string => readFileSync(path.join(root, f), 'utf8');
    expect(read('cgroup.subtree_control')).toBe('+cpu\n');
    expect(read('xenkit/web1/cgroup.procs')).toBe('4242\n');
    expect(read('xenkit/web1/cpu.weight')).toBe('200\n');
    expect(read('xenkit/web1/cpu.max')).toBe('50000 100000\n');
  });

  it('explains that there is no usable cgroup, and rejects weights xl would reject', () => {
    expect(() => applySched(undefined, 'web1', 1, 256, 0)).toThrow(
      /no cgroup hierarchy with the cpu controller/,
    );
    expect(() => applySched(undefined, 'web1', 1, 0, 0)).toThrow(
      'guest "web1": weight 0 is outside 1..65535',
    );
  });
});

describe('/proc figures', () => {
  it('reads utime+stime after the command name, even one with spaces and parentheses', () => {
    const stat = '1234 (CPU 0/TCG) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 0 0';
    expect(parseStatCpuSeconds(stat)).toBe(3);
  });

  it('sums the vCPU threads of a QEMU process', async () => {
    const proc = scratch();
    for (const [tid, utime] of [
      [11, 100],
      [12, 300],
    ]) {
      mkdirSync(path.join(proc, '10/task', String(tid)), { recursive: true });
      writeFileSync(
        path.join(proc, '10/task', String(tid), 'stat'),
        `${tid} (CPU) S ${'0 '.repeat(10)}${utime} 100 0`,
      );
    }
    expect(await readGuestCpuSeconds(10, [11, 12, 99], proc)).toBe(6);
  });

  it('reads MemTotal and the busy CPU seconds of the host', () => {
    expect(parseMemTotalMiB('MemTotal:       24684112 kB\nMemFree: 1 kB\n')).toBe(24105);
    expect(parseBusyCpuSeconds('cpu  1000 200 300 5000 400 60 40 0 0 0\ncpu0 1 1 1 1\n')).toBe(16);
  });
});

describe('stateFromRunState', () => {
  it.each([
    ['running', 'running'],
    ['paused', 'paused'],
    ['prelaunch', 'paused'],
    ['shutdown', 'shutdown'],
    ['guest-panicked', 'crashed'],
    [undefined, 'dying'],
  ] as const)('shows QEMU run state %s as %s', (status, flag) => {
    const state = stateFromRunState(status);
    expect(
      Object.entries(state)
        .filter(([, on]) => on)
        .map(([k]) => k),
    ).toEqual([flag]);
  });
});

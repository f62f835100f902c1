import { describe, expect, it } from 'vitest';
import { formatCpuList, parseCpuList } from '../../src/tools/taskset.js';
import { vcpuFromProc } from '../../src/hypervisors/qemu/vcpu-pin.js';

describe('CPU lists', () => {
  it.each([
    ['0', 4, [0]],
    ['0-2', 4, [0, 1, 2]],
    ['3,0-1', 4, [0, 1, 3]],
    ['all', 2, [0, 1]],
  ])('reads "%s" on a %i-CPU host', (text, cpus, expected) => {
    expect(parseCpuList(text, cpus)).toEqual(expected);
  });

  it.each([
    ['4', 'names CPU 4, and the host has CPUs 0-3'],
    ['2-1', 'is not a CPU list'],
    ['a', 'is not a CPU list'],
    ['', 'is not a CPU list'],
  ])('refuses "%s"', (text, message) => {
    expect(() => parseCpuList(text, 4)).toThrow(message);
  });

  it.each([
    [[0, 1, 2, 3], 4, 'all'],
    [[0, 1, 3], 4, '0-1,3'],
    [[2], 4, '2'],
  ])('writes %j as xl does', (cpus, host, text) => {
    expect(formatCpuList(cpus, host)).toBe(text);
  });
});

describe('a vCPU thread read from /proc', () => {
  // /proc/PID/task/TID/stat of QEMU's "CPU 1/TCG" thread: state R, utime 250, stime 50, processor 1.
  const fields = [
    'R',
    ...Array.from({ length: 10 }, () => '0'),
    '250',
    '50',
    ...Array.from({ length: 23 }, () => '0'),
    '1',
  ];
  const stat = `4242 (CPU 1/TCG) ${fields.join(' ')} 0 0\n`;

  it('gives the host CPU, the state, the time and the affinity', () => {
    expect(vcpuFromProc(1, stat, 'Name:\tCPU 1/TCG\nCpus_allowed_list:\t0\n', 2)).toEqual({
      vcpu: 1,
      cpu: 1,
      running: true,
      blocked: false,
      online: true,
      timeSec: 3,
      affinity: '0',
    });
    expect(vcpuFromProc(1, stat, 'Cpus_allowed_list:\t0-1\n', 2).affinity).toBe('all');
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseMemSize } from '../../../src/cli/xm/mem-set.js';
import { renderSchedCredit } from '../../../src/cli/xm/sched-credit.js';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
let driver: FakeDriver;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-res-'));
  driver = new FakeDriver();
  driver.domains = [
    makeDomain({ name: 'web', id: 4, vcpus: 1, maxVcpus: 4, memoryMiB: 256, maxMemoryMiB: 1024 }),
  ];
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('xm vcpu-set', () => {
  it('sets the vCPU count within maxvcpus', async () => {
    const run = await runXm(driver, root, ['vcpu-set', 'web', '3']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Domain web: 3 vCPUs (was 1)\n');
    expect(driver.calls).toEqual([{ method: 'setVcpus', args: ['web', 3] }]);
  });

  it('passes --ignore-host on to the driver', async () => {
    const run = await runXm(driver, root, ['vcpu-set', 'web', '2', '--ignore-host']);
    expect(run.code).toBe(0);
    expect(driver.calls).toEqual([{ method: 'setVcpus', args: ['web', 2, { ignoreHost: true }] }]);
  });

  it('refuses more vCPUs than maxvcpus with exit 2 and says how to raise it', async () => {
    const run = await runXm(driver, root, ['vcpu-set', 'web', '8']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('domain "web": 8 vCPUs is more than its maxvcpus (4)');
    expect(run.stderr).toContain('hint: set maxvcpus = 8 in its config and restart it');
    expect(driver.calls).toEqual([]);
  });

  it.each([['0'], ['-1'], ['two'], ['1.5']])('refuses the count "%s"', async (count) => {
    const run = await runXm(driver, root, ['vcpu-set', 'web', '--', count]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`vCPU count "${count}" is not a whole number of at least 1`);
  });
});

describe('xm mem-set', () => {
  it.each([
    ['256', 256],
    ['256M', 256],
    ['256m', 256],
    ['512MiB', 512],
    ['1G', 1024],
    ['0.5G', 512],
    ['1048576K', 1024],
  ])('reads "%s" as %i MiB (a bare number is MiB, as xm took it)', (text, mib) => {
    expect(parseMemSize(text, 'web')).toBe(mib * 1024 * 1024);
  });

  it.each([['4X'], ['abc'], ['0'], ['100K']])('refuses the size "%s"', (text) => {
    expect(() => parseMemSize(text, 'web')).toThrow(/domain "web": memory "/);
  });

  it('sets the memory target in bytes', async () => {
    const run = await runXm(driver, root, ['mem-set', 'web', '512M']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Domain web: memory target 512 MiB (was 256 MiB)\n');
    expect(driver.calls).toEqual([{ method: 'setMemory', args: ['web', 512 * 1024 * 1024] }]);
  });

  it('refuses more than maxmem with exit 2', async () => {
    const run = await runXm(driver, root, ['mem-set', 'web', '2G']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('domain "web": 2048 MiB is more than its maxmem (1024 MiB)');
  });

  it('refuses a bad size before looking for the domain', async () => {
    const run = await runXm(driver, root, ['mem-set', 'nope', '12Q']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('domain "nope": memory "12Q" has an unknown unit "Q"');
  });
});

describe('xm sched-credit', () => {
  it("prints xm's Name ID Weight Cap table", () => {
    expect(renderSchedCredit('web', 4, { weight: 512, cap: 50 })).toBe(
      'Name                                ID Weight  Cap\nweb                                  4    512   50\n',
    );
  });

  it('reads the weight and cap of a domain', async () => {
    const run = await runXm(driver, root, ['sched-credit', '-d', 'web']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(renderSchedCredit('web', 4, { weight: 256, cap: 0 }));
    expect(driver.calls).toEqual([{ method: 'schedCredit', args: ['web', {}] }]);
  });

  it('sets weight and cap, and prints the result as JSON', async () => {
    const run = await runXm(driver, root, ['sched-credit', '-d', 'web', '-w', '512', '-c', '50', '--json']);
    expect(JSON.parse(run.stdout)).toEqual({ name: 'web', id: 4, weight: 512, cap: 50 });
    expect(driver.calls[0]?.args[1]).toEqual({ weight: 512, cap: 50 });
  });

  it.each([
    [['-w', '0'], 'weight "0" is not a whole number from 1 to 65535'],
    [['-w', '70000'], 'weight "70000" is not a whole number from 1 to 65535'],
    [['-c', 'x'], 'cap "x" is not a whole number'],
  ])('refuses %j', async (args, message) => {
    const run = await runXm(driver, root, ['sched-credit', '-d', 'web', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('needs -d', async () => {
    const run = await runXm(driver, root, ['sched-credit']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '-d, --domain <name>' not specified");
  });
});

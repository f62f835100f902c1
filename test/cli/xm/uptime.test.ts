import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatUptime, renderUptimeRow } from '../../../src/cli/xm/uptime.js';
import { FakeDriver, makeDomain, runXm } from './fake-driver.js';

let root: string;
let driver: FakeDriver;
const now = new Date('2024-05-01T12:00:00Z');

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-up-'));
  driver = new FakeDriver();
  driver.domains = [
    makeDomain({ name: 'web', id: 9, startedAt: new Date(now.getTime() - 3725_000) }),
    makeDomain({ name: 'test2', id: 5, startedAt: new Date(now.getTime() - 86400_000 - 59_000) }),
    makeDomain({ name: 'odd', id: 11, startedAt: undefined }),
  ];
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('uptime formatting', () => {
  it.each([
    [0, ' 0:00:00'],
    [3725, ' 1:02:05'],
    [86400 + 59, '1 day,  0:00:59'],
    [3 * 86400 + 13 * 3600 + 5 * 60, '3 days, 13:05:00'],
  ])('writes %i seconds as "%s"', (seconds, text) => {
    expect(formatUptime(seconds)).toBe(text);
  });
});

describe('xm uptime', () => {
  it("prints Domain-0 and every guest by ID in xm's format", async () => {
    const run = await runXm(driver, root, ['uptime'], { now: () => now });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        renderUptimeRow('Name', 'ID', 'Uptime'),
        renderUptimeRow('Domain-0', 0, '3 days,  2:01:01'),
        renderUptimeRow('test2', 5, '1 day,  0:00:59'),
        renderUptimeRow('web', 9, ' 1:02:05'),
        renderUptimeRow('odd', 11, '-'),
      ].join('\n') + '\n',
    );
    expect(renderUptimeRow('Name', 'ID', 'Uptime')).toBe(`Name${' '.repeat(29)}   ID Uptime`);
  });

  it('prints only the named domains, as JSON on request', async () => {
    const run = await runXm(driver, root, ['uptime', 'web', '--json'], { now: () => now });
    expect(JSON.parse(run.stdout)).toEqual([{ name: 'web', id: 9, uptimeSec: 3725 }]);
  });

  it('fails on a domain that is not running', async () => {
    const run = await runXm(driver, root, ['uptime', 'gone']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no domain "gone" is running');
  });
});

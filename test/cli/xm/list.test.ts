import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatStateLetters,
  LIST_HEADER,
  renderList,
  renderListRow,
  type ListRow,
} from '../../../src/cli/render-list.js';
import { FakeDriver, makeDomain, NO_STATE, runXm } from './fake-driver.js';

const golden = (name: string): string =>
  fs.readFileSync(path.join(import.meta.dirname, 'golden', name), 'utf8');

let root: string;
let driver: FakeDriver;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-xm-list-'));
  driver = new FakeDriver();
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function writeCfg(name: string, body = ''): void {
  fs.mkdirSync(path.join(root, 'etc/xen'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'etc/xen', `${name}.cfg`),
    `name = '${name}'\nmemory = '256'\nvcpus = 2\n${body}`,
  );
}

describe('the list table', () => {
  it("renders the seed's sample with xl's column widths", () => {
    const rows: ListRow[] = [
      { name: 'Domain-0', id: 0, memoryMiB: 1893, vcpus: 2, stateLetters: 'r-----', cpuTimeSec: 4943.9 },
      { name: 'test2', id: 5, memoryMiB: 128, vcpus: 1, stateLetters: '-b----', cpuTimeSec: 53.1 },
    ];
    expect(renderList(rows)).toBe(golden('list-seed.txt'));
  });

  it('right-aligns ID, Mem and VCPUs under their headers, as xl prints them', () => {
    const row = renderListRow({
      name: 'web',
      id: 123,
      memoryMiB: 4096,
      vcpus: 16,
      stateLetters: 'r-----',
      cpuTimeSec: 1,
    });
    for (const column of ['ID', 'Mem', 'VCPUs']) {
      const end = LIST_HEADER.indexOf(column) + column.length;
      expect(row[end - 1]).toMatch(/\d/);
      expect(row[end]).toBe(' ');
    }
  });

  it.each([
    [{ ...NO_STATE, running: true }, 'r-----'],
    [{ ...NO_STATE, blocked: true }, '-b----'],
    [{ ...NO_STATE, paused: true }, '--p---'],
    [{ ...NO_STATE, shutdown: true, crashed: true }, '---sc-'],
    [{ ...NO_STATE, dying: true }, '-----d'],
    [NO_STATE, '------'],
  ])('writes the state %o as %s', (state, letters) => {
    expect(formatStateLetters(state)).toBe(letters);
  });

  it('prints one decimal of CPU time and a dash for unknown cells', () => {
    const row = renderListRow({
      name: 'x',
      id: undefined,
      memoryMiB: undefined,
      vcpus: 1,
      stateLetters: '------',
      cpuTimeSec: undefined,
    });
    expect(row).toMatch(/^x {44}- {5}- {5}1 {5}------ {9}-$/);
    expect(
      renderListRow({ name: 'x', id: 1, memoryMiB: 1, vcpus: 1, stateLetters: 'r-----', cpuTimeSec: 0.04 }),
    ).toMatch(/ 0\.0$/);
  });
});

describe('xm list', () => {
  it("prints Domain-0 first, then the running guests by ID, in the seed's layout", async () => {
    driver.domains = [
      makeDomain({
        name: 'web',
        id: 9,
        memoryMiB: 512,
        vcpus: 2,
        state: { ...NO_STATE, running: true },
        cpuTimeSec: 7,
      }),
      makeDomain({ name: 'test2', id: 5, cpuTimeSec: 53.1 }),
    ];
    const run = await runXm(driver, root, ['list']);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 3).join('\n') + '\n').toBe(golden('list-seed.txt'));
    expect(lines[3]).toBe(`${'web'.padEnd(40)}     9   512     2     r-----       7.0`);
  });

  it('lists only the named domains and fails clearly on a domain that is not running', async () => {
    driver.domains = [makeDomain({ name: 'a', id: 1 }), makeDomain({ name: 'b', id: 2 })];
    const only = await runXm(driver, root, ['list', 'b']);
    expect(only.stdout).toContain('\nb ');
    expect(only.stdout).not.toContain('\na ');
    expect(only.stdout).not.toContain('Domain-0');
    const missing = await runXm(driver, root, ['list', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('xm: error: no domain "nope" is running');
    expect(missing.stderr).toContain('hint: `xm list` shows the running domains; `xm create nope` starts it');
  });

  it('adds the defined guests that are not running with --all, ID and state dashed', async () => {
    writeCfg('test2');
    writeCfg('idle');
    driver.domains = [makeDomain({ name: 'test2', id: 5 })];
    const run = await runXm(driver, root, ['list', '--all']);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^test2 /);
    expect(lines[3]).toBe(`${'idle'.padEnd(40)}     -   256     2     ------         -`);
  });

  it('prints full details as JSON with -l and --json', async () => {
    writeCfg('idle');
    driver.domains = [
      makeDomain({ name: 'test2', id: 5, startedAt: new Date('2024-01-01T00:00:00Z'), details: { pid: 42 } }),
    ];
    for (const flag of ['-l', '--json']) {
      const run = await runXm(driver, root, ['list', flag, '--all']);
      const parsed = JSON.parse(run.stdout) as Record<string, unknown>[];
      expect(parsed.map((d) => d.name)).toEqual(['Domain-0', 'test2', 'idle']);
      expect(parsed[1]).toMatchObject({
        id: 5,
        state: '-b----',
        startedAt: '2024-01-01T00:00:00.000Z',
        details: { pid: 42 },
      });
      expect(parsed[2]).toMatchObject({ id: null, running: false, memoryMiB: 256 });
    }
  });

  it('prints errors as JSON under --json', async () => {
    const run = await runXm(driver, root, ['list', 'ghost', '--json']);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: false, error: { code: 'E_NO_DOMAIN' } });
  });
});

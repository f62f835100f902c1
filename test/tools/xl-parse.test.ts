import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseXlInfo, parseXlSchedCredit, schedulerOf } from '../../src/tools/xl-parse-info.js';
import { parseXlListLong } from '../../src/tools/xl-parse-list-long.js';
import { parseStateLetters, parseXlList, parseXlUptime } from '../../src/tools/xl-parse-list.js';
import { renderList, type ListRow } from '../../src/cli/render-list.js';
import { XenkitError } from '../../src/errors.js';

const fixture = (name: string): string =>
  fs.readFileSync(path.join(import.meta.dirname, '../hypervisors/xl/fixtures/xen-4.17', name), 'utf8');

describe('parseXlList', () => {
  it('reads every row of the table, Domain-0 included', () => {
    const rows = parseXlList(fixture('list.out'));
    expect(rows.map((r) => [r.name, r.id, r.memoryMiB, r.vcpus, r.stateLetters, r.cpuTimeSec])).toEqual([
      ['Domain-0', 0, 1893, 2, 'r-----', 4943.9],
      ['test2', 5, 128, 1, '-b----', 53.1],
      ['web', 7, 512, 2, '--p---', 0.4],
    ]);
    expect(rows[2]?.state).toMatchObject({ paused: true, running: false });
  });

  it('reads a name with spaces and the shutdown-reason letter', () => {
    const [row] = parseXlList(`${'my guest'.padEnd(40)}    12   256     1     ---sc-      9.5\n`);
    expect(row).toMatchObject({ name: 'my guest', id: 12, stateLetters: '---sc-' });
    expect(row?.state).toMatchObject({ shutdown: true, crashed: true });
  });

  it('round-trips through the xm list renderer', () => {
    const text = fixture('list.out');
    const rows: ListRow[] = parseXlList(text).map((r) => ({ ...r }));
    // xl writes tabs in the header where xm wrote spaces; the rows are the same bytes.
    expect(renderList(rows).split('\n').slice(1)).toEqual(text.split('\n').slice(1));
  });

  it('fails clearly on output it cannot read', () => {
    expect(() => parseXlList('garbage line\n')).toThrow(XenkitError);
  });

  it.each([
    ['r-----', { running: true }],
    ['-b----', { blocked: true }],
    ['-----d', { dying: true }],
  ])('reads the state letters %s', (letters, flags) => {
    expect(parseStateLetters(letters)).toMatchObject(flags);
  });
});

describe('parseXlListLong', () => {
  it('reads the limits and identity of each domain from the libxl JSON', () => {
    const records = parseXlListLong(fixture('list_-l.out'));
    expect(records.map((r) => [r.id, r.name, r.type, r.maxVcpus, r.maxMemoryMiB, r.targetMemoryMiB])).toEqual(
      [
        [0, 'Domain-0', 'pv', undefined, 16777215, 1893],
        [5, 'test2', 'pv', 2, 256, 128],
        [7, 'web', 'pvh', 4, 1024, 512],
      ],
    );
    expect(records[1]?.uuid).toBe('5c7a1b2e-9d4f-4e2a-8b1c-3f6d7e8a9b0c');
    expect(records[1]?.config).toHaveProperty('nics');
  });

  it('reads an empty answer as no domains and rejects SXP', () => {
    expect(parseXlListLong('')).toEqual([]);
    expect(() => parseXlListLong('(domain (domid 0))')).toThrow(
      expect.objectContaining({ code: 'E_XL_OUTPUT', hint: expect.stringContaining('output_format="json"') }),
    );
  });
});

describe('parseXlInfo', () => {
  it('reads key : value lines, colons in values included', () => {
    const info = parseXlInfo(fixture('info.out'));
    expect(info.nr_cpus).toBe('2');
    expect(info.total_memory).toBe('4095');
    expect(info.xen_commandline).toBe('placeholder dom0_mem=2048M,max:2048M no-real-mode edd=off');
    expect(info.xen_changeset).toBe('');
    expect(schedulerOf(info)).toBe('credit2');
  });
});

describe('parseXlUptime and parseXlSchedCredit', () => {
  it('reads days, hours, minutes and seconds', () => {
    expect(parseXlUptime(fixture('uptime.out'))).toEqual([
      { name: 'Domain-0', id: 0, uptimeSec: 3 * 86400 + 2 * 3600 + 61 },
      { name: 'test2', id: 5, uptimeSec: 3725 },
      { name: 'web', id: 7, uptimeSec: 9 },
    ]);
  });

  it("reads a domain's weight and cap", () => {
    expect(parseXlSchedCredit(fixture('sched-credit_-d_test2.out'), 'test2')).toEqual({
      weight: 512,
      cap: 50,
    });
    expect(() => parseXlSchedCredit(fixture('sched-credit_-d_test2.out'), 'web')).toThrow(
      /no row for domain "web"/,
    );
  });
});

import { describe, expect, it } from 'vitest';
import { definedRow, renderList, type ListRow } from '../../src/cli/render-list.js';
import { parseXmList } from './xm-list.js';

const rows: ListRow[] = [
  { name: 'Domain-0', id: 0, memoryMiB: 1893, vcpus: 2, stateLetters: 'r-----', cpuTimeSec: 4943.9 },
  { name: 'test2', id: 5, memoryMiB: 128, vcpus: 1, stateLetters: '-b----', cpuTimeSec: 53.1 },
  {
    name: 'a-very-long-guest-name-of-forty-chars-xx',
    id: 12,
    memoryMiB: 512,
    vcpus: 2,
    stateLetters: '--p---',
    cpuTimeSec: 0,
  },
  definedRow('stopped1', 256, 1),
];

describe('parseXmList', () => {
  it.each(rows.map((row) => [row.name, row] as const))(
    'reads back the row of %s as rendered',
    (_name, row) => {
      const parsed = parseXmList(renderList(rows)).find((r) => r.name === row.name);
      expect(parsed).toEqual({
        name: row.name,
        id: row.id,
        memMiB: row.memoryMiB,
        vcpus: row.vcpus,
        state: row.stateLetters,
        timeSec: row.cpuTimeSec,
      });
    },
  );

  it("reads the seed's own table", () => {
    const seed = [
      'Name                ID      Mem    VCPUs  State    Time(s)',
      'Domain-0            0      1893    2      r----- 4943.9',
      'test2                5      128     1      -b---- 53.1',
    ].join('\n');
    expect(parseXmList(seed).map((r) => [r.name, r.id, r.memMiB, r.vcpus])).toEqual([
      ['Domain-0', 0, 1893, 2],
      ['test2', 5, 128, 1],
    ]);
  });

  it.each([
    ['another header', 'Name ID Memory\nx 1 2'],
    ['a missing column', `${renderList([]).trim()}\ntest2 5 128 1 -b----`],
    ['a bad state', `${renderList([]).trim()}\ntest2 5 128 1 running 1.0`],
    ['a bad number', `${renderList([]).trim()}\ntest2 five 128 1 -b---- 1.0`],
  ])('refuses %s', (_what, text) => {
    expect(() => parseXmList(text)).toThrow(/xm list/);
  });
});

import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseXlCfgFast } from '../../src/formats/xl-cfg-fast-parse.js';
import { parseXlCfgValues } from '../../src/formats/xl-cfg-parse.js';
import type { XlValue } from '../../src/model/domain-config.js';

/** What the full parser (tokens, then statements) makes of `text`, or the error it throws. */
function fullParse(text: string): { values: Record<string, XlValue> } | { error: unknown } {
  try {
    // The tokens path alone: a text with a `;` after it is read the same, and the fast path never
    // takes one.
    return { values: parseXlCfgValues(`${text}\n;`) };
  } catch (error) {
    return { error };
  }
}

/** The fast parse must be the full parse wherever it answers. */
function expectSameAsFull(text: string): void {
  const fast = parseXlCfgFast(text);
  if (fast === undefined) return;
  const full = fullParse(text);
  expect(full).toEqual({ values: fast });
  // Key order too: a renderer writes the map in its order.
  expect(Object.keys(fast)).toEqual(Object.keys((full as { values: object }).values));
}

const goldenDir = fileURLToPath(new URL('../golden/xl-cfg/', import.meta.url));

describe('parseXlCfgFast', () => {
  it('reads the cfg xen-tools writes as the full parser does', () => {
    const cfg = [
      '#',
      '# Configuration file for the Xen instance g0001, created',
      '# by xen-tools 4.9.2 on Sat Dec  5 12:00:00 2026.',
      '#',
      "kernel      = '/boot/vmlinuz-6.1.0-28-amd64'",
      "memory      = '256'",
      'vcpus       = 2',
      'disk        = [',
      "                  'file:/srv/domains/g0001/disk.img,xvda2,w',",
      "                  'file:/srv/domains/g0001/swap.img,xvda1,w',",
      '              ]',
      "name        = 'g0001'",
      "vif         = [ 'mac=00:16:3E:00:00:01' ]",
      "on_crash    = 'restart'",
      '',
    ].join('\n');
    expect(parseXlCfgFast(cfg)).toEqual({
      kernel: '/boot/vmlinuz-6.1.0-28-amd64',
      memory: '256',
      vcpus: 2,
      disk: ['file:/srv/domains/g0001/disk.img,xvda2,w', 'file:/srv/domains/g0001/swap.img,xvda1,w'],
      name: 'g0001',
      vif: ['mac=00:16:3E:00:00:01'],
      on_crash: 'restart',
    });
    expectSameAsFull(cfg);
  });

  it.each(readdirSync(goldenDir).filter((f) => f.endsWith('.cfg')))(
    'reads golden %s as the full parser',
    (file) => {
      const text = readFileSync(`${goldenDir}${file}`, 'utf8');
      // Those the full parser reads are all of the common shape (one has a syntax error).
      if ('values' in fullParse(text)) expect(parseXlCfgFast(text)).toBeDefined();
      expectSameAsFull(text);
    },
  );

  it.each([
    ["a = 'x' ; b = 'y'", 'a ";"'],
    ["a = 'ab'\na += 'cd'", '"+="'],
    ["a = 'it\\'s'", 'an escape'],
    ["a = [ [ 'x' ], [ ] ]", 'a nested list'],
    ["a = 'x'\r\n", 'a carriage return'],
    ['Name = 1', 'an upper-case key'],
    ["a = 'open", 'an unterminated string'],
    ['a = 512MB', 'a number with a unit'],
    ["a = [ 'x' 'y' ]", 'a missing comma'],
    ['a = b', 'a bare word'],
  ])('leaves %j to the full parser (%s)', (text) => {
    expect(parseXlCfgFast(text)).toBeUndefined();
  });

  it.each([
    ['', {}],
    ['\n\n# only comments\n   \n', {}],
    ["a = 'x'", { a: 'x' }],
    ['a=\'x\'#c\nb="y z"\n', { a: 'x', b: 'y z' }],
    ['m = 0x200\nn = 010\no = 08\np = 0', { m: 512, n: 8, o: '08', p: 0 }],
    ["a = [ ]\nb = [\n # c\n 'x' # d\n , 2,\n\n]", { a: [], b: ['x', 2] }],
    ["a = 'first'\nb = 1\na = 'second'", { a: 'second', b: 1 }],
  ])('reads %j', (text, values) => {
    expect(parseXlCfgFast(text)).toEqual(values);
    expectSameAsFull(text);
  });

  // Texts made of the pieces of the syntax and of what breaks it, in any order: wherever the fast
  // path answers, the full parser answers the same.
  const piece = fc.constantFrom(
    'name',
    'memory',
    'a_1',
    'Upper',
    ' ',
    '\t',
    '  ',
    '=',
    '+=',
    ' = ',
    ',',
    '[',
    ']',
    ';',
    '\n',
    '\r',
    '#',
    '# note\n',
    "'x'",
    "'it\\'s'",
    '"a b"',
    "'",
    '"',
    '512',
    '0x1f',
    '017',
    '08',
    '12ab',
    '9999999999999999999',
    'é',
    '\\',
    '.',
  );
  const lines = fc.array(
    fc.array(piece, { maxLength: 9 }).map((p) => p.join('')),
    { maxLength: 6 },
  );

  it('answers as the full parser does on generated texts', () => {
    fc.assert(
      fc.property(lines, (ls) => {
        expectSameAsFull(ls.join('\n'));
      }),
      { numRuns: 3000 },
    );
  });

  const atom = fc.oneof(
    fc.stringMatching(/^'[^'\\\n]{0,8}'$/),
    fc.stringMatching(/^"[^"\\\n]{0,8}"$/),
    fc.stringMatching(/^[0-9][0-9a-fx]{0,4}$/),
  );
  const gap = fc.constantFrom('', ' ', '\n', ' # c\n', '\t\n  ');
  const list = fc
    .tuple(fc.array(fc.tuple(gap, atom, gap), { maxLength: 4 }), fc.boolean(), gap)
    .map(([items, trailing, end]) => {
      const body = items.map(([a, v, b]) => `${a}${v}${b}`).join(',');
      return `[${body}${trailing && items.length > 0 ? ',' : ''}${end}]`;
    });
  const statement = fc
    .tuple(
      fc.constantFrom('', ' ', '\t'),
      fc.stringMatching(/^[a-z][a-z0-9_]{0,5}$/),
      fc.constantFrom('', ' ', ' \t'),
      fc.constantFrom('', ' '),
      fc.oneof(atom, list),
      fc.constantFrom('', ' ', ' # c'),
    )
    .map(([lead, key, before, after, value, end]) => `${lead}${key}${before}=${after}${value}${end}`);

  it('answers, as the full parser does, for well-formed generated cfgs', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(statement, fc.constantFrom('', '# c', '  ')), { maxLength: 8 }), (ls) => {
        const text = ls.join('\n');
        expect(parseXlCfgFast(text)).toBeDefined();
        expectSameAsFull(text);
      }),
      { numRuns: 2000 },
    );
  });
});

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePartitionsFile } from '../../src/formats/partitions-file.js';

const SAMPLE = '/etc/xen-tools/partitions.d/sample-server';

describe('parsePartitionsFile', () => {
  it('reads sections in file order with their keys and lines', () => {
    const parsed = parsePartitionsFile(
      '# layout\n[root]\nsize=1G\ntype = ext4\n; note\n\n[swap]\n  size=2G  \ntype=swap\n',
    );
    expect(parsed.errors).toEqual([]);
    expect(parsed.sections.map((s) => [s.name, s.line, Object.fromEntries(s.keys)])).toEqual([
      ['root', 2, { size: { value: '1G', line: 3 }, type: { value: 'ext4', line: 4 } }],
      ['swap', 7, { size: { value: '2G', line: 8 }, type: { value: 'swap', line: 9 } }],
    ]);
  });

  it('keeps an empty value (options= means defaults later)', () => {
    expect(parsePartitionsFile('[a]\noptions=\n').sections[0]?.keys.get('options')).toEqual({
      value: '',
      line: 2,
    });
  });

  it.each([
    ['size=1G\n[a]\n', 1, 'size= comes before any [section]'],
    ['[a]\nsize=1G\nsize=2G\n', 3, 'size= appears twice in [a]'],
    ['[a]\n[a]\n', 2, 'section [a] appears twice'],
    ['[a]\njust words\n', 2, '"just words" is neither [section] nor key=value'],
  ])('reports %j at line %i', (text, line, message) => {
    expect(parsePartitionsFile(text).errors).toEqual([{ line, message }]);
  });

  it.skipIf(!fs.existsSync(SAMPLE))("reads xen-tools' own sample-server", () => {
    const parsed = parsePartitionsFile(fs.readFileSync(SAMPLE, 'utf8'));
    expect(parsed.errors).toEqual([]);
    expect(parsed.sections.map((s) => s.name)).toEqual([
      'root',
      'swap',
      'home',
      'opt',
      'tmp',
      'usr',
      'var',
      'var-tmp',
    ]);
    expect(parsed.sections[2]?.keys.get('options')?.value).toBe('nodev,nosuid');
  });
});

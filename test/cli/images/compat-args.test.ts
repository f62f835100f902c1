import { describe, expect, it } from 'vitest';
import { opt, parseCompatArgs } from '../../../src/cli/images/compat-args.js';
import { formatApproxSize } from '../../../src/model/size.js';

const TABLE = [
  opt('dir', 'string', 'dir', 'DIR'),
  opt('hostname', 'list', 'name', 'NAME'),
  opt('dry-run', 'flag', 'dry run'),
  opt('extension', 'optional', 'ext'),
];

describe('parseCompatArgs (Getopt::Long style)', () => {
  it.each<[string[], Record<string, unknown>, string[]]>([
    [['--dir=/home/xen', 'foo', 'bar'], { dir: '/home/xen' }, ['foo', 'bar']],
    [['foo', '--dir', '/home/xen', 'bar'], { dir: '/home/xen' }, ['foo', 'bar']],
    [['-dir', '/x', '--hostname=a', '--hostname', 'b'], { dir: '/x', hostname: ['a', 'b'] }, []],
    [['--dry', 'web1'], { 'dry-run': true }, ['web1']],
    [['--', '--odd-name'], {}, ['--odd-name']],
  ])('reads %j', (argv, values, names) => {
    const parsed = parseCompatArgs(argv, TABLE, 'xen-delete-image');
    expect(Object.fromEntries(parsed.values)).toEqual(values);
    expect(parsed.names).toEqual(names);
  });

  it.each([
    [['--bogus'], 'unknown option "--bogus"'],
    [['--dir'], 'option "--dir" needs a value'],
  ])('refuses %j naming the option', (argv, message) => {
    expect(() => parseCompatArgs(argv, TABLE, 'xen-delete-image')).toThrow(message);
  });
});

describe('formatApproxSize', () => {
  it.each([
    [undefined, '-'],
    [512, '512B'],
    [4096, '4.0K'],
    [2 * 1024 ** 3, '2.0G'],
    [785_645_568, '749.3M'],
  ])('formats %j as %s', (bytes, text) => {
    expect(formatApproxSize(bytes)).toBe(text);
  });
});

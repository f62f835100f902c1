import { describe, expect, it } from 'vitest';
import { levenshtein, parseGetopt, suggestName } from '../../src/config/getopt.js';
import { CREATE_IMAGE_OPTIONS } from '../../src/config/options.js';
import { exitCodeFor, ValidationErrors, XenkitError } from '../../src/errors.js';

function parse(...argv: string[]): [string, string | boolean][] {
  return parseGetopt(argv, CREATE_IMAGE_OPTIONS).map((o) => [o.def.key, o.value]);
}

function messagesOf(argv: string[]): { message: string; hint: string | undefined }[] {
  try {
    parseGetopt(argv, CREATE_IMAGE_OPTIONS);
  } catch (error) {
    expect(exitCodeFor(error)).toBe(2);
    const errors = error instanceof ValidationErrors ? error.errors : [error as XenkitError];
    return errors.map((e) => ({ message: e.message, hint: e.hint }));
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('parseGetopt', () => {
  it.each([
    [['--hostname=web1'], [['hostname', 'web1']]],
    [['--hostname', 'web1'], [['hostname', 'web1']]],
    [['-hostname', 'web1'], [['hostname', 'web1']]],
    [['-hostname=web1'], [['hostname', 'web1']]],
    [['--HostName=web1'], [['hostname', 'web1']]],
    [['--dhcp'], [['dhcp', true]]],
    [['--nodhcp'], [['dhcp', false]]],
    [['--no-dhcp'], [['dhcp', false]]],
    [['--nohosts'], [['nohosts', true]]],
    [['--no-hosts'], [['nohosts', true]]],
    [['--copy-hosts'], [['copyhosts', true]]],
    [['--nocopy-hosts'], [['copyhosts', false]]],
    [['--genpass-len=12'], [['genpass_len', '12']]],
    [['--genpass_len', '12'], [['genpass_len', '12']]],
    [
      ['--ip', '10.0.0.2', '--ip=10.0.0.3'],
      [
        ['ip', '10.0.0.2'],
        ['ip', '10.0.0.3'],
      ],
    ],
    [['--extension'], [['extension', '']]],
    [['--extension', '.xl'], [['extension', '.xl']]],
    [
      ['--extension', '--dhcp'],
      [
        ['extension', ''],
        ['dhcp', true],
      ],
    ],
    [['--role-args', '--arg1 --arg2'], [['role-args', '--arg1 --arg2']]],
    [['--password', '-secret-'], [['password', '-secret-']]],
    [['--vcpus=+2'], [['vcpus', '+2']]],
    [['--hostn=web1'], [['hostname', 'web1']]],
    // An exact name wins over an abbreviation: --host is xenkit's libvirt host, no longer --hostname.
    [['--host=node2'], [['host', 'node2']]],
    [['--copyh'], [['copyhosts', true]]],
    [['--nodh'], [['dhcp', false]]],
    [['--ip'.slice(0, 4), '10.0.0.2'], [['ip', '10.0.0.2']]],
    [
      ['--mac=00:16:3e:00:00:01', '--dry-run', '--json'],
      [
        ['mac', '00:16:3e:00:00:01'],
        ['dry-run', true],
        ['json', true],
      ],
    ],
  ])('parses %j', (argv, expected) => {
    expect(parse(...argv)).toEqual(expected);
  });

  it.each([
    [['--sizee=4G'], /^unknown option "--sizee"$/, /did you mean --size\?/],
    [['--hostnmae=x'], /unknown option "--hostnmae"/, /--hostname/],
    [['--frobnicate'], /unknown option "--frobnicate"/, /--help lists every option/],
    [['--i=1'], /"--i" is ambiguous: it could be .*--ide.*--ip/, /write more of the name/],
    [['--copy'], /"--copy" is ambiguous: .*--copyhosts.*--copy-cmd/, /write more/],
    [['--dhcp=1'], /option "--dhcp" takes no value/, /--dhcp or --nodhcp/],
    [['--hostname'], /option "--hostname" needs a value/, /--hostname=NAME/],
    [['--hostname', '--dhcp'], /option "--hostname" needs a value/, /--hostname=NAME/],
    [['--vcpus=two'], /option "--vcpus" needs a whole number, not "two"/, /--vcpus=1/],
    [['web1'], /unexpected argument "web1"/, /--hostname=web1/],
    [['--', '--dhcp'], /unexpected argument "--dhcp"/, /every setting is an option/],
    [['--ipfile=/x'], /unknown option "--ipfile"/, /xen-tools.conf setting/],
  ])('rejects %j', (argv, message, hint) => {
    const [first] = messagesOf(argv);
    expect(first?.message).toMatch(message);
    expect(first?.hint).toMatch(hint);
  });

  it('reports every bad option at once', () => {
    const errors = messagesOf(['--sizee=1G', '--hostname=ok', '--vcpus=x', 'stray']);
    expect(errors.map((e) => e.message)).toEqual([
      'unknown option "--sizee"',
      'option "--vcpus" needs a whole number, not "x"',
      'unexpected argument "stray"',
    ]);
  });
});

describe('suggestions', () => {
  it('measures edit distance', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });

  it('suggests only close names', () => {
    expect(suggestName('memroy', ['memory', 'maxmem'])).toBe('memory');
    expect(suggestName('zzzzzz', ['memory', 'maxmem'])).toBeUndefined();
  });
});

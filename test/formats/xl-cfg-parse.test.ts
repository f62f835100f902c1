import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { XenkitError, ValidationErrors } from '../../src/errors.js';
import { parseXlCfg, parseXlCfgValues } from '../../src/formats/xl-cfg-parse.js';

const golden = (name: string): string =>
  readFileSync(fileURLToPath(new URL(`../golden/xl-cfg/${name}`, import.meta.url)), 'utf8');

function errorOf(fn: () => unknown): XenkitError {
  try {
    fn();
  } catch (error) {
    if (error instanceof XenkitError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('parseXlCfgValues', () => {
  it.each([
    ["name = 'a'", { name: 'a' }],
    ['name = "a b"', { name: 'a b' }],
    ['memory = 512', { memory: 512 }],
    ['memory = 0x200', { memory: 512 }],
    ['memory = 010', { memory: 8 }],
    ['memory = 0', { memory: 0 }],
    ['uuid = 08', { uuid: '08' }],
    ["memory = '512'", { memory: '512' }],
    ["a = 'x' ; b = 'y'", { a: 'x', b: 'y' }],
    ["a = 'x';", { a: 'x' }],
    ["a = 'x' # comment\nb = 1 # another", { a: 'x', b: 1 }],
    ["a = 'first'\na = 'second'", { a: 'second' }],
    ["a = 'ab'\na += 'cd'", { a: 'abcd' }],
    ["a += 'cd'", { a: 'cd' }],
    ["a = [ 'x' ]\na += [ 'y', 'z' ]", { a: ['x', 'y', 'z'] }],
    ['a = [ ]', { a: [] }],
    ["a = [\n  'x',\n  'y',\n]", { a: ['x', 'y'] }],
    ["a = [\n\n 'x'\n\n , 'y'\n ]", { a: ['x', 'y'] }],
    ["a = [ [ 'x', 1 ], [ ] ]", { a: [['x', 1], []] }],
    ["a = 'it\\'s'", { a: "it's" }],
    ['a = "say \\"hi\\""', { a: 'say "hi"' }],
    ["a = 'tab\\there\\nline\\\\'", { a: 'tab\there\nline\\' }],
    ["a = 'double \" inside'", { a: 'double " inside' }],
    ['\n\n# only comments\n\n', {}],
    ['', {}],
  ])('reads %j', (text, expected) => {
    expect(parseXlCfgValues(text)).toEqual(expected);
  });

  it.each([
    ["name = 'a' memory = 1", 'x.cfg:1:12: expected the end of the line or ";", found "memory"'],
    ["name 'a'", 'x.cfg:1:6: expected "=" after "name", found the string "a"'],
    ['name =', 'x.cfg:1:7: expected a value, found the end of the file'],
    ["a = [ 'x' 'y' ]", 'x.cfg:1:11: expected "," or "]" after a list item, found the string "y"'],
    ["a = [ 'x', , ]", 'x.cfg:1:12: expected a value, found ","'],
    ["a = 'unterminated\n", "x.cfg:1:5: unterminated string starting with '"],
    ['a = "\\x41"', 'x.cfg:1:6: unsupported escape "\\x" in a string'],
    ["\n\nName = 'a'", 'x.cfg:3:1: unexpected "Name": keys are lower case'],
    ["a = 'x'\r\n", 'x.cfg:1:8: carriage return in the file'],
    ['a = -1', 'x.cfg:1:5: unexpected "-"'],
    ["a = 'x'\na += 1", 'x.cfg:2:6: "+=" cannot be used with numbers (key "a")'],
    ["a = 'x'\na += [ 'y' ]", 'x.cfg:2:6: "+=" cannot add a list to a string (key "a")'],
  ])('rejects %j with a positioned E_XLCFG usage error', (text, message) => {
    const error = errorOf(() => parseXlCfgValues(text, 'x.cfg'));
    expect(error.code).toBe('E_XLCFG');
    expect(error.kind).toBe('usage');
    expect(error.message).toBe(message);
    expect(error.hint).toBeTruthy();
  });

  it('names line and column of the trailing dot in the seed sample test2.cfg', () => {
    const text = golden('seed-test2.cfg');
    const lines = text.split('\n');
    const line = lines.findIndex((l) => l.endsWith("'."));
    const column = (lines[line] as string).length;
    const error = errorOf(() => parseXlCfg(text, '/etc/xen/test2.cfg'));
    expect(line + 1).toBe(13);
    expect(error.message).toBe(`/etc/xen/test2.cfg:${line + 1}:${column}: unexpected "."`);
    expect(error.hint).toMatch(/not Python/);
  });

  it('reads the seed sample once its trailing dot is removed', () => {
    const config = parseXlCfg(golden('seed-test2.cfg').replace("w'.\n", "w'\n"), 'test2.cfg');
    expect(config).toMatchObject({
      name: 'test2',
      type: 'pv',
      memory: 128,
      maxmem: 128,
      vcpus: 1,
      kernel: '/boot/vmlinuz-2.6.24-23-xen',
      ramdisk: '/boot/initrd.img-2.6.24-23-xen',
      root: '/dev/xvda2 ro',
      extra: '2 console=xvc0',
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'restart',
    });
    expect(config.disks.map((d) => [d.target, d.vdev, d.access, d.format])).toEqual([
      ['/home/xen/domains/test2/disk-img', 'xvda2', 'rw', 'raw'],
      ['/home/xen/domains/test2/disk-swap', 'xvda1', 'rw', 'raw'],
    ]);
    expect(config.vifs[0]).toMatchObject({ ip: 'x.x.x.x', mac: '00:16:3e:00:00:01' });
  });
});

describe('parseXlCfg', () => {
  it("fills in xl's defaults", () => {
    const config = parseXlCfg("name = 'g'");
    expect(config).toMatchObject({
      name: 'g',
      type: 'pv',
      memory: 32,
      maxmem: 32,
      vcpus: 1,
      maxvcpus: 1,
      disks: [],
      vifs: [],
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'destroy',
    });
  });

  it.each([
    ["builder = 'hvm'", 'hvm'],
    ["builder = 'generic'", 'pv'],
    ["type = 'pvh'", 'pvh'],
    ["type = 'hvm'\nbuilder = 'generic'", 'hvm'],
  ])('reads the guest type from %j', (text, type) => {
    expect(parseXlCfg(`name = 'g'\n${text}`).type).toBe(type);
  });

  it.each([
    ["memory = '512'", 512, 512],
    ['memory = 512\nmaxmem = 2048', 512, 2048],
    ['maxmem = 1024', 1024, 1024],
  ])('reads memory and maxmem from %j', (text, memory, maxmem) => {
    expect(parseXlCfg(`name = 'g'\n${text}`)).toMatchObject({ memory, maxmem });
  });

  it('reads vcpus and maxvcpus, quoted or not', () => {
    expect(parseXlCfg("name = 'g'\nvcpus = '2'\nmaxvcpus = 4")).toMatchObject({ vcpus: 2, maxvcpus: 4 });
  });

  it("reads xenkit_tcg_cache (MiB of QEMU's TCG translation cache) and leaves it out when absent", () => {
    expect(parseXlCfg("name = 'g'\nxenkit_tcg_cache = 48")).toMatchObject({ tcgCacheMiB: 48 });
    expect(parseXlCfg("name = 'g'\nxenkit_tcg_cache = '4096'")).toMatchObject({ tcgCacheMiB: 4096 });
    expect(parseXlCfg("name = 'g'")).not.toHaveProperty('tcgCacheMiB');
  });

  it.each([
    ['8', 'g.cfg: xenkit_tcg_cache = 8 is out of range'],
    ['4097', 'g.cfg: xenkit_tcg_cache = 4097 is out of range'],
    ["'64M'", 'g.cfg: xenkit_tcg_cache = "64M" is not a whole number'],
  ])('refuses xenkit_tcg_cache = %s', (value, message) => {
    const error = errorOf(() => parseXlCfg(`name = 'g'\nxenkit_tcg_cache = ${value}`, 'g.cfg'));
    const messages = error instanceof ValidationErrors ? error.errors.map((e) => e.message) : [error.message];
    expect(messages).toEqual([message]);
    if (message.endsWith('out of range')) {
      const hint = error instanceof ValidationErrors ? error.errors[0]?.hint : error.hint;
      expect(hint).toBe('give the TCG translation cache in MiB, from 16 to 4096 (default 96)');
    }
  });

  it('keeps unknown keys in raw', () => {
    const config = parseXlCfg("name = 'g'\ndhcp = 'dhcp'\nxen_shell = 'bob'\nvfb = [ 'vnc=1' ]");
    expect(config.raw).toMatchObject({ dhcp: 'dhcp', xen_shell: 'bob', vfb: ['vnc=1'] });
  });

  it('reports every mapping problem at once', () => {
    const error = errorOf(() =>
      parseXlCfg("memory = '4X'\ntype = 'xen'\non_crash = 'explode'\ndisk = 'file:/x,xvda,w'", 'g.cfg'),
    );
    expect(error).toBeInstanceOf(ValidationErrors);
    expect((error as ValidationErrors).errors.map((e) => e.message)).toEqual([
      'g.cfg: name is missing',
      'g.cfg: type = "xen" is not a guest type',
      'g.cfg: memory = "4X" is not a whole number',
      'g.cfg: disk is a single value but should be a list',
      'g.cfg: on_crash = "explode" is not an action',
    ]);
  });
});

/**
 * The listing entry (src/cli/bin/list.ts, built into dist/bundle/list.cjs, which bin/xm.js loads
 * for `xm list` and bin/xen-list-images.js for everything) against the whole CLI: for the same
 * root, the same output, errors and exit status, text and --json, in-process and as the built
 * commands run.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xmList } from '../../../src/cli/bin/list.js';
import { parsePlainListArgs } from '../../../src/cli/xm/list.js';
import type { Paths } from '../../../src/paths.js';
import { REPO, runBin, runNode, type CliResult } from '../../helpers/cli.js';
import { makeListedGuests, makeRoot } from '../../helpers/fake-guests.js';
import { FakeDriver, makeDomain, runXm, type XmEntry } from '../xm/fake-driver.js';

let paths: Paths;
beforeAll(() => {
  paths = makeRoot();
  makeListedGuests(paths);
  // A cfg that does not parse, and one whose images are missing: both are listed, differently.
  fs.writeFileSync(path.join(paths.xenDir, 'd4.cfg'), "name = 'd4'\nmemory = 'lots\n");
  fs.writeFileSync(
    path.join(paths.xenDir, 'e5.cfg'),
    "name = 'e5'\nmemory = 128\ndisk = [ 'file:/srv/domains/e5/disk.img,xvda2,w' ]\n",
  );
});
afterAll(() => fs.rmSync(paths.root, { recursive: true, force: true }));

describe('parsePlainListArgs', () => {
  it.each([
    [[], { names: [], flags: {} }],
    [['--all'], { names: [], flags: { all: true } }],
    [['-a', '-l', 'web', '--json'], { names: ['web'], flags: { all: true, long: true, json: true } }],
    [['--root', '/r', 'a', '--root=/s', 'b'], { names: ['a', 'b'], flags: { root: '/s' } }],
    [
      ['--driver=qemu', '--host', 'h', '--connect', 'qemu:///x'],
      { names: [], flags: { driver: 'qemu', host: 'h', connect: 'qemu:///x' } },
    ],
    [['--all-hosts'], { names: [], flags: { allHosts: true } }],
  ])('reads %j', (argv, expected) => {
    expect(parsePlainListArgs(argv)).toEqual(expected);
  });

  it.each([
    [['--help']],
    [['-h']],
    [['-al']],
    [['--frob']],
    [['--root']],
    [['--root=']],
    [['--root', '--json']],
    [['--all=yes']],
    [['--', 'web']],
    [['-']],
  ])('leaves %j to commander', (argv) => {
    expect(parsePlainListArgs(argv)).toBeUndefined();
  });
});

describe('xmList, in-process', () => {
  const lean: XmEntry = async (args, io, deps) => {
    expect(args[0]).toBe('list');
    const code = await xmList(args.slice(1), io, deps);
    if (code === undefined) throw new Error(`the lean entry did not take ${JSON.stringify(args)}`);
    return code;
  };
  const driver = new FakeDriver();
  driver.domains = [makeDomain({ name: 'a1', id: 3, cpuTimeSec: 12.5 })];

  it.each([
    [['list']],
    [['list', '--all']],
    [['list', '--all', '--json']],
    [['list', '-l', '-a']],
    [['list', 'a1', 'b2', '--all']],
    [['list', 'nope']],
    [['list', '--json', 'nope']],
    [['list', 'a/b']],
    [['list', '--driver', 'bogus']],
    [['list', '--all-hosts', '--all']],
  ])('prints what the whole xm prints for %j', async (args) => {
    const whole = await runXm(driver, paths.root, args);
    expect(await runXm(driver, paths.root, args, {}, lean)).toEqual(whole);
    expect(whole.stdout + whole.stderr).not.toBe('');
  });

  it('does nothing and answers undefined for a command line commander must read', async () => {
    const written: string[] = [];
    const sink = { write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WritableStream;
    const io = { stdout: sink, stderr: sink, stdin: process.stdin, isTTY: false };
    expect(await xmList(['--help'], io)).toBeUndefined();
    expect(await xmList(['-al', '--root', paths.root], io)).toBeUndefined();
    expect(written).toEqual([]);
  });
});

describe('the built commands', () => {
  const bundle = (name: string): string => path.join(REPO, 'dist/bundle', name);
  /** `xm ARGS` or `xen-list-images ARGS` through the whole CLI's bundle, as bin/ loaded it before. */
  const whole = (entry: 'xm' | 'xenListImages', args: string[]): Promise<CliResult> =>
    runNode([
      '--input-type=module',
      '-e',
      `const cli = await import(${JSON.stringify(bundle('cli.mjs'))});\n` +
        `process.exitCode = await cli[${JSON.stringify(entry)}](process.argv.slice(1));`,
      '--',
      ...args,
    ]);
  // Domain-0's CPU seconds are the host's, read live: the one figure two runs cannot share.
  const steady = (r: CliResult): CliResult => ({
    ...r,
    stdout: r.stdout
      .replace(/^(Domain-0 .*\s)\d+\.\d$/m, '$1T')
      .replace(/("name": "Domain-0",[^}]*"cpuTimeSec": )[\d.]+/, '$1T'),
  });

  it.each(['list.cjs', 'list-images.cjs'])(
    'keep the listing bundle %s free of the command framework and the other verbs',
    (name) => {
      const lean = fs.readFileSync(bundle(name), 'utf8');
      expect(lean).not.toContain('class CommanderError');
      expect(lean).not.toContain('mmdebstrap');
      expect(lean.length).toBeLessThan(fs.statSync(bundle('cli.mjs')).size / 3);
    },
  );

  it("keep xm's verbs out of xen-list-images' bundle", () => {
    const images = fs.readFileSync(bundle('list-images.cjs'), 'utf8');
    expect(images).not.toContain('function runListCommand');
    expect(images.length).toBeLessThan(fs.statSync(bundle('list.cjs')).size / 2);
  });

  it.each(['list.cjs', 'list-images.cjs'])(
    '%s loads child_process and crypto only when a listing uses them',
    async (name) => {
      const script = [
        `const bundle = require(${JSON.stringify(bundle(name))});`,
        'const loaded = () => process.moduleLoadList.filter((m) => /^NativeModule (child_process|crypto)$/.test(m));',
        'const before = loaded();',
        'let out = "";',
        'const sink = { write: (t) => (out += t).length > 0 };',
        `bundle.xenListImages([${JSON.stringify(`--root=${paths.root}`)}], { stdout: sink, stderr: sink }).then((code) =>`,
        '  console.log(JSON.stringify({ before, after: loaded(), code, out })));',
      ].join('\n');
      // A script file: `node -e` loads crypto itself. (net is left out: process.stdout, a pipe
      // here, is a net.Socket.)
      const file = path.join(paths.root, 'load-list.cjs');
      fs.writeFileSync(file, script);
      const result = await runNode([file]);
      expect(result.stderr).toBe('');
      const seen = JSON.parse(result.stdout) as {
        before: string[];
        after: string[];
        code: number;
        out: string;
      };
      expect(seen.before).toEqual([]);
      // c3's qcow2 overlays are read by qemu-img: child_process, loaded through the proxy.
      expect(seen.after).toContain('NativeModule child_process');
      expect(seen.out).toContain(`linked clone of ${paths.root}/srv/domains/a1/disk.img`);
      expect(seen.code).toBe(0);
    },
  );

  it.each([[[]], [['--json']], [['--json', 'a1']], [['--help']]])(
    'xen-list-images %j prints what the whole CLI prints',
    async (args) => {
      const argv = [...args, `--root=${paths.root}`];
      const lean = await runBin('xen-list-images', argv);
      expect(lean).toEqual(await whole('xenListImages', argv));
      expect(lean.stdout + lean.stderr).not.toBe('');
    },
  );

  it.each([[['list', '--all']], [['list', '--all', '--json']], [['list', 'nope']], [['list', '-al']]])(
    'xm %j prints what the whole CLI prints',
    async (args) => {
      const argv = [...args, '--root', paths.root];
      const lean = steady(await runBin('xm', argv));
      expect(lean).toEqual(steady(await whole('xm', argv)));
      expect(lean.stdout + lean.stderr).not.toBe('');
    },
  );
});

/**
 * The image commands under both names come from one option table: `xenkit X --help` and the
 * xen-tools name's --help list the same options, and an option of one name works under the other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main as xenkit } from '../../../src/cli/bin/xenkit.js';
import { runXenToolsCommand } from '../../../src/cli/images/compat-main.js';
import { IMAGE_COMMANDS } from '../../../src/cli/images/index.js';
import type { Paths } from '../../../src/paths.js';
import { captureIo } from '../../helpers/capture-io.js';
import { longOptions } from '../../helpers/cli.js';
import { makeFakeGuest, makeRoot } from '../../helpers/fake-guests.js';

/** Options each name adds on its own: commander's --help, xen-tools' --help/--manual/--version. */
const OWN = new Set(['help', 'manual', 'version']);

async function xenkitRun(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await xenkit(argv, { ...c.io, stdin: process.stdin, isTTY: false });
  return { code, out: c.out(), err: c.err() };
}

async function xenToolsRun(
  name: string,
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const command = IMAGE_COMMANDS.find((c) => c.xenTools === name)!;
  const c = captureIo();
  const code = await runXenToolsCommand(command, argv, c.io, { xl: false });
  return { code, out: c.out(), err: c.err() };
}

describe.each(IMAGE_COMMANDS.map((c) => [c.name, c.xenTools, c] as const))(
  'xenkit %s and %s',
  (name, xenTools, command) => {
    it('list the same options in --help, those of the one table', async () => {
      const ours = await xenkitRun([name, '--help']);
      const theirs = await xenToolsRun(xenTools, ['--help']);
      expect(ours.code).toBe(0);
      expect(theirs.code).toBe(0);
      const table = command.options.map((d) => d.name).sort();
      expect(
        longOptions(ours.out)
          .filter((o) => !OWN.has(o))
          .sort(),
      ).toEqual(table);
      expect(
        longOptions(theirs.out)
          .filter((o) => !OWN.has(o))
          .sort(),
      ).toEqual(table);
    });
  },
);

let paths: Paths | undefined;
afterEach(() => {
  if (paths) fs.rmSync(paths.root, { recursive: true, force: true });
  paths = undefined;
});

describe('an option of one name under the other', () => {
  it('xenkit delete-image takes --hostname as xen-delete-image does', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'foo');
    const r = await xenkitRun(['delete-image', '--hostname=foo', '--dry-run', `--root=${paths.root}`]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`Would delete: ${paths.xenDir}/foo.cfg\n`);
  });

  it('xenkit delete-image refuses --evms with exit 2, as xen-delete-image does', async () => {
    paths = makeRoot();
    const r = await xenkitRun(['delete-image', '--evms=c0', 'foo', `--root=${paths.root}`]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('EVMS storage is not available');
  });

  it('xenkit list-images reads another directory with --test', async () => {
    paths = makeRoot();
    makeFakeGuest(paths, 'a1');
    const other = path.join(paths.root, 'other');
    fs.mkdirSync(other);
    fs.copyFileSync(path.join(paths.xenDir, 'a1.cfg'), path.join(other, 'b2.cfg'));
    const r = await xenkitRun(['list-images', `--test=${other}`, '--json', `--root=${paths.root}`]);
    expect(r.code, r.err).toBe(0);
    const body = JSON.parse(r.out) as { guests: { cfgPath: string }[] };
    expect(body.guests.map((g) => g.cfgPath)).toEqual([path.join(other, 'b2.cfg')]);
  });

  it('xen-update-image refuses --upgrade with --dist-upgrade', async () => {
    paths = makeRoot();
    const r = await xenToolsRun('xen-update-image', [
      '--upgrade',
      '--dist-upgrade',
      'foo',
      `--root=${paths.root}`,
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('options --upgrade and --dist-upgrade exclude each other');
  });

  it.each([
    ['xenkit', ['--dry-run', '--json'], 'dist-upgrade'],
    ['xenkit', ['--dry-run', '--json', '--upgrade'], 'upgrade'],
    ['xen-update-image', ['--dry-run', '--json'], 'upgrade'],
    ['xen-update-image', ['--dry-run', '--json', '--dist-upgrade'], 'dist-upgrade'],
  ])('%s %j runs apt-get %s', async (front, flags, verb) => {
    paths = makeRoot();
    makeFakeGuest(paths, 'foo');
    const argv = [...flags, '--dir=/srv', 'foo', `--root=${paths.root}`];
    const r =
      front === 'xenkit' ? await xenkitRun(['update-image', ...argv]) : await xenToolsRun(front, argv);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`"title": "apt-get update and ${verb} in foo"`);
  });
});

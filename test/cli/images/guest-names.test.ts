/** Every guest name that becomes a path is one path component: on the command line and in a cfg. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/bin/xenkit.js';
import type { Paths } from '../../../src/paths.js';
import { captureIo } from '../../helpers/capture-io.js';
import { makeFakeGuest, makeRoot } from '../../helpers/fake-guests.js';

let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main([...argv, `--root=${paths.root}`], { ...c.io, stdin: process.stdin, isTTY: false });
  return { code, out: c.out(), err: c.err() };
}

/** Every path under the root with its size and mtime. */
function listAll(): string[] {
  return fs
    .readdirSync(paths.root, { recursive: true, encoding: 'utf8' })
    .filter((p) => !p.startsWith(path.join('run', 'lock')))
    .sort()
    .map((p) => {
      const s = fs.lstatSync(path.join(paths.root, p));
      return `${p} ${s.size} ${s.mtimeMs}`;
    });
}

describe('guest names on the command line', () => {
  it.each([
    [['delete-image', '../etc']],
    [['update-image', '../etc']],
    [['resize-image', '../etc', '--size=1G']],
    [['clone', 'g1', '../etc']],
    [['clone', '../etc', 'g2']],
    [['reset-identity', '../etc']],
    [['audit', 'g1', '../etc']],
  ])('%j is refused with exit 2 before anything is touched', async (argv) => {
    paths = makeRoot();
    makeFakeGuest(paths, 'g1');
    const before = listAll();
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`command line: guest name "../etc" contains '/'`);
    expect(listAll()).toEqual(before);
  });
});

describe('a cfg whose name is not a guest name', () => {
  function makeBadGuest(): string {
    paths = makeRoot();
    const cfg = makeFakeGuest(paths, 'g1');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace("name = 'g1'", "name = '../../victim'"));
    return cfg;
  }

  it.each([
    [['delete-image', 'g1']],
    [['update-image', 'g1']],
    [['resize-image', 'g1', '--size=1G']],
    [['clone', 'g1', 'g2']],
    [['reset-identity', 'g1']],
  ])('%j refuses it with exit 2 and changes nothing', async (argv) => {
    const cfg = makeBadGuest();
    const before = listAll();
    const r = await run(argv);
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.err).toContain(`${cfg}: guest name "../../victim" contains '/'`);
    expect(listAll()).toEqual(before);
  });

  it('is listed with the error, and the directory its name climbs to stays', async () => {
    makeBadGuest();
    // stateDir/qemu/../../victim: a stale-looking registry record there must not get it removed.
    const victim = path.join(paths.root, 'run/victim');
    fs.mkdirSync(victim, { recursive: true });
    fs.writeFileSync(
      path.join(victim, 'domain.json'),
      JSON.stringify({ id: 1, name: 'x', pid: 2 ** 22 + 1 }),
    );
    fs.writeFileSync(path.join(victim, 'precious'), 'keep me');
    const r = await run(['list-images', '--json']);
    expect(r.out + r.err).toContain('guest name \\"../../victim\\" contains');
    expect(fs.readFileSync(path.join(victim, 'precious'), 'utf8')).toBe('keep me');
  });
});

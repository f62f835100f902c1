import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { usedStateFile } from '../../src/config/ips-file.js';
import { buildDeletePlan, inspectDelete, type DeleteOptions } from '../../src/images/delete-plan.js';
import { executePlan } from '../../src/plan/executor.js';
import type { Paths } from '../../src/paths.js';
import { makeFakeGuest, makeRoot } from './fake-guests.js';

const OPTIONS: DeleteOptions = { dir: undefined, extension: '.cfg', force: false, running: { xl: false } };
let paths: Paths;
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

function setUp(): void {
  paths = makeRoot();
  makeFakeGuest(paths, 'g1');
  makeFakeGuest(paths, 'g2');
  fs.mkdirSync(paths.autoDir, { recursive: true });
  fs.symlinkSync('../g1.cfg', path.join(paths.autoDir, 'g1.cfg'));
  fs.mkdirSync(path.dirname(usedStateFile(paths)), { recursive: true });
  fs.writeFileSync(usedStateFile(paths), '192.168.1.5 g1\n192.168.1.6 g2\n');
}

/** Every path under the root, for before/after comparisons. */
function listAll(dir: string): string[] {
  // The lock directory (run/lock/xenkit) is made on first use and stays, as for every command.
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => !p.startsWith('run'))
    .sort();
}

describe('deleting a guest', () => {
  it('removes the autostart link, cfg and image directory, releases its address and keeps the log', async () => {
    setUp();
    const target = await inspectDelete(paths, 'g1', OPTIONS);
    expect(target.removals.map((r) => [r.kind, path.relative(paths.root, r.path)])).toEqual([
      ['autostart', 'etc/xen/auto/g1.cfg'],
      ['config', 'etc/xen/g1.cfg'],
      ['directory', 'srv/domains/g1'],
    ]);
    const g2Before = listAll(path.join(paths.root, 'srv/domains/g2'));
    await executePlan(buildDeletePlan(paths, [target]));
    expect(fs.existsSync(path.join(paths.xenDir, 'g1.cfg'))).toBe(false);
    expect(fs.existsSync(path.join(paths.autoDir, 'g1.cfg'))).toBe(false);
    expect(fs.existsSync(path.join(paths.root, 'srv/domains/g1'))).toBe(false);
    expect(fs.readFileSync(path.join(paths.logDir, 'g1.log'), 'utf8')).toBe('created\n');
    expect(fs.readFileSync(usedStateFile(paths), 'utf8')).toBe('192.168.1.6 g2\n');
    expect(listAll(path.join(paths.root, 'srv/domains/g2'))).toEqual(g2Before);
    expect(fs.existsSync(path.join(paths.xenDir, 'g2.cfg'))).toBe(true);
    // nothing renamed aside is left behind
    expect(listAll(paths.root).filter((p) => p.includes('xenkit-deleted'))).toEqual([]);
  });

  it('puts everything back when a later step fails', async () => {
    setUp();
    const before = listAll(paths.root);
    const plan = buildDeletePlan(paths, [await inspectDelete(paths, 'g1', OPTIONS)]);
    plan.steps.push({ id: 'boom', title: 'fail', actions: [], run: () => Promise.reject(new Error('boom')) });
    await expect(executePlan(plan)).rejects.toThrow('boom');
    expect(listAll(paths.root)).toEqual(before);
    expect(fs.readFileSync(usedStateFile(paths), 'utf8').split('\n').sort()).toEqual([
      '',
      '192.168.1.5 g1',
      '192.168.1.6 g2',
    ]);
  });

  it.each([
    ['a guest that does not exist', 'nope', 'E_NO_GUEST'],
    ['a name with a slash', '../etc', 'E_NAME'],
  ])('refuses %s', async (_what, name, code) => {
    setUp();
    await expect(inspectDelete(paths, name, OPTIONS)).rejects.toMatchObject({ code });
  });

  it('refuses the base of a linked clone unless forced, and frees the base when the last clone goes', async () => {
    setUp();
    makeFakeGuest(paths, 'c1', { linkedTo: 'g1' });
    fs.appendFileSync(
      path.join(paths.xenDir, 'g1.cfg'),
      `# xenkit-base-image: ${path.join(paths.root, 'srv/domains/g1/disk.img')} 0600\n`,
    );
    await expect(inspectDelete(paths, 'g1', OPTIONS)).rejects.toMatchObject({ code: 'E_HAS_CLONES' });
    expect((await inspectDelete(paths, 'g1', { ...OPTIONS, force: true })).name).toBe('g1');
    const clone = await inspectDelete(paths, 'c1', OPTIONS);
    expect(clone.unmarkBases.map((b) => path.basename(b.cfgPath))).toEqual(['g1.cfg']);
    await executePlan(buildDeletePlan(paths, [clone]));
    expect(fs.readFileSync(path.join(paths.xenDir, 'g1.cfg'), 'utf8')).not.toContain('xenkit-base-image');
    expect(fs.existsSync(path.join(paths.root, 'srv/domains/c1'))).toBe(false);
  });
});

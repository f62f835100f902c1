import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { usedStateFile } from '../../src/config/ips-file.js';
import { buildDeletePlan, inspectDelete, type DeleteOptions } from '../../src/images/delete-plan.js';
import { runtimePathsFor } from '../../src/hypervisors/qemu/runtime-paths.js';
import { executePlan } from '../../src/plan/executor.js';
import type { Paths } from '../../src/paths.js';
import { makeFakeGuest, makeRoot } from '../helpers/fake-guests.js';

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
  // The lock directory (run/xenkit/lock) is made on first use and stays, as for every command.
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
    ['a name with a slash', '../etc', 'E_GUEST_NAME'],
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

/** Adds a disk line naming `target` to the cfg of `name`. */
function addDiskLine(name: string, target: string, vdev: string, access = 'w'): void {
  const cfg = path.join(paths.xenDir, `${name}.cfg`);
  const text = fs.readFileSync(cfg, 'utf8');
  fs.writeFileSync(cfg, text.replace('disk = [\n', `disk = [\n  'file:${target},${vdev},${access}',\n`));
}

/** The SHA-256 of a file (the images are 64 MiB: no byte-wise comparison). */
function digest(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Deletes `name` for real; returns what it kept. */
async function deleteGuest(name: string, options: DeleteOptions = OPTIONS): Promise<string[]> {
  const target = await inspectDelete(paths, name, options);
  await executePlan(buildDeletePlan(paths, [target]));
  return target.kept.map((k) => k.path);
}

describe('deleting only what xenkit made', () => {
  let outside: string;
  beforeAll(() => {
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-outside-root-'));
  });
  afterAll(() => fs.rmSync(outside, { recursive: true, force: true }));

  it.each([
    [
      'a system file (/etc/passwd)',
      (): string => {
        fs.mkdirSync(path.join(paths.root, 'etc'), { recursive: true });
        fs.writeFileSync(path.join(paths.root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
        return '/etc/passwd';
      },
      (): string => path.join(paths.root, 'etc/passwd'),
    ],
    [
      'a data image shared read-only',
      (): string => {
        fs.mkdirSync(path.join(paths.root, 'srv/data'), { recursive: true });
        fs.writeFileSync(path.join(paths.root, 'srv/data/shared.img'), 'data');
        return '/srv/data/shared.img';
      },
      (): string => path.join(paths.root, 'srv/data/shared.img'),
    ],
    [
      'a file outside the root reached through /../..',
      (): string => {
        fs.writeFileSync(path.join(outside, 'victim.img'), 'victim');
        return `${paths.root}/../../${path.relative('/', outside)}/victim.img`;
      },
      (): string => path.join(outside, 'victim.img'),
    ],
    [
      "another guest's image reached through a symlinked directory",
      (): string => {
        fs.symlinkSync('domains/g2', path.join(paths.root, 'srv/g2-link'));
        return '/srv/g2-link/disk.img';
      },
      (): string => path.join(paths.root, 'srv/domains/g2/disk.img'),
    ],
  ])('keeps %s that the cfg names, and says so', async (_what, place, victim) => {
    setUp();
    addDiskLine('g1', place(), 'xvdb', 'r');
    const before = digest(victim());
    const target = await inspectDelete(paths, 'g1', OPTIONS);
    expect(target.kept.filter((k) => k.kind === 'disk')).toEqual([
      {
        path: expect.any(String) as string,
        kind: 'disk',
        why: expect.stringContaining('xenkit deletes only what it made') as string,
      },
    ]);
    await executePlan(buildDeletePlan(paths, [target]));
    expect(digest(victim())).toBe(before);
    expect(fs.existsSync(path.join(paths.root, 'srv/domains/g1'))).toBe(false);
    expect(fs.existsSync(path.join(paths.xenDir, 'g1.cfg'))).toBe(false);
  });

  it('removes no image whose directory is not DIR/domains/NAME when no --dir is given', async () => {
    paths = makeRoot();
    const images = path.join(paths.root, 'var/lib/images');
    fs.mkdirSync(images, { recursive: true });
    fs.writeFileSync(path.join(images, 'g1.img'), 'disk');
    fs.mkdirSync(paths.xenDir, { recursive: true });
    fs.writeFileSync(
      path.join(paths.xenDir, 'g1.cfg'),
      `name = 'g1'\ndisk = [ 'file:${path.join(images, 'g1.img')},xvda2,w' ]\n`,
    );
    const kept = await deleteGuest('g1');
    expect(kept).toEqual([path.join(images, 'g1.img')]);
    expect(fs.readFileSync(path.join(images, 'g1.img'), 'utf8')).toBe('disk');
    expect(fs.existsSync(path.join(paths.xenDir, 'g1.cfg'))).toBe(false);
  });

  it('keeps a disk inside the guest directory that resolves out of it, removing only the link', async () => {
    setUp();
    const g1 = path.join(paths.root, 'srv/domains/g1');
    fs.symlinkSync('../g2', path.join(g1, 'sub'));
    addDiskLine('g1', path.join(g1, 'sub/disk.img'), 'xvdb');
    const target = await inspectDelete(paths, 'g1', OPTIONS);
    expect(target.kept[0]?.why).toContain(
      `resolves to ${fs.realpathSync(paths.root)}/srv/domains/g2/disk.img`,
    );
    await executePlan(buildDeletePlan(paths, [target]));
    expect(fs.existsSync(path.join(paths.root, 'srv/domains/g2/disk.img'))).toBe(true);
    expect(fs.existsSync(g1)).toBe(false);
  });

  it('leaves a guest directory that is a symlink (xenkit never makes one) and what it points to', async () => {
    setUp();
    const g1 = path.join(paths.root, 'srv/domains/g1');
    fs.rmSync(g1, { recursive: true });
    fs.symlinkSync('g2', g1);
    const target = await inspectDelete(paths, 'g1', { ...OPTIONS, dir: '/srv' });
    expect(target.removals.map((r) => r.kind)).toEqual(['autostart', 'config']);
    expect(target.kept.map((k) => k.why)).toContain(
      `not in a guest directory xenkit made (${g1} is a symlink); xenkit deletes only what it made`,
    );
    await executePlan(buildDeletePlan(paths, [target]));
    expect(fs.readdirSync(path.join(paths.root, 'srv/domains/g2')).sort()).toEqual(['disk.img', 'swap.img']);
  });

  it('refuses a guest directory holding an image another guest uses, unless forced', async () => {
    setUp();
    const shared = path.join(paths.root, 'srv/domains/g1/data.img');
    fs.writeFileSync(shared, 'data');
    addDiskLine('g2', shared, 'xvdb');
    await expect(inspectDelete(paths, 'g1', OPTIONS)).rejects.toMatchObject({
      code: 'E_SHARED_IMAGE',
      message: expect.stringContaining('the guest "g2" uses too') as string,
    });
    expect((await inspectDelete(paths, 'g1', { ...OPTIONS, force: true })).name).toBe('g1');
  });

  it('removes no guest directory that --dir places outside the root', async () => {
    setUp();
    fs.mkdirSync(path.join(outside, 'domains/g1'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'domains/g1/disk.img'), 'not ours');
    const target = await inspectDelete(paths, 'g1', {
      ...OPTIONS,
      dir: `/../../${path.relative('/', outside)}`,
    });
    expect(target.removals.map((r) => r.kind)).toEqual(['autostart', 'config']);
    expect(target.kept[0]?.why).toContain('outside the root');
    await executePlan(buildDeletePlan(paths, [target]));
    expect(fs.readFileSync(path.join(outside, 'domains/g1/disk.img'), 'utf8')).toBe('not ours');
  });
});

describe('deleting a guest that runs under another name', () => {
  let fakeQemu: ChildProcess;
  afterEach(() => fakeQemu?.kill('SIGKILL'));

  it('refuses when the QEMU registry knows it by the name in its cfg', async () => {
    setUp();
    const cfg = path.join(paths.xenDir, 'g1.cfg');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace("name = 'g1'", "name = 'web-prod'"));
    // A process whose command line says qemu-system, as the registry's liveness check wants.
    fakeQemu = spawn('bash', ['-c', 'exec -a qemu-system-x86_64 sleep 60'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const rt = runtimePathsFor(paths.stateDir, 'web-prod');
    fs.mkdirSync(rt.dir, { recursive: true });
    fs.writeFileSync(
      rt.record,
      JSON.stringify({ id: 3, name: 'web-prod', pid: fakeQemu.pid, resetsSeen: 0 }),
    );
    await expect(inspectDelete(paths, 'g1', OPTIONS)).rejects.toMatchObject({
      code: 'E_RUNNING',
      message: expect.stringContaining(`under QEMU as "web-prod" (pid ${fakeQemu.pid})`) as string,
    });
    expect(fs.existsSync(path.join(paths.root, 'srv/domains/g1/disk.img'))).toBe(true);
  });

  it('refuses when a process holds its image open, whatever the names say', async () => {
    setUp();
    const disk = path.join(paths.root, 'srv/domains/g1/disk.img');
    fakeQemu = spawn('sh', ['-c', `exec 3<>'${disk}'; exec sleep 60`], { stdio: 'ignore' });
    for (let i = 0; i < 50 && !fs.readdirSync(`/proc/${fakeQemu.pid}/fd`).includes('3'); i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(inspectDelete(paths, 'g1', OPTIONS)).rejects.toMatchObject({
      code: 'E_RUNNING',
      message: expect.stringContaining(`(pid ${fakeQemu.pid}) has it open`) as string,
    });
  });
});

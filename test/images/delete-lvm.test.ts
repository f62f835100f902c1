/** Deleting LVM guests against fake LVM tools (the real ones run in test/vm/lvm.vm.test.ts). */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildDeletePlan, inspectDelete, type DeleteOptions } from '../../src/images/delete-plan.js';
import { executePlan } from '../../src/plan/executor.js';
import type { Paths } from '../../src/paths.js';
import { fakeLvmLog, makeFakeLvm } from '../helpers/fake-lvm.js';
import { removeDir, withPathFirst } from '../helpers/storage-fixtures.js';
import { makeRoot } from '../helpers/fake-guests.js';

const OPTIONS: DeleteOptions = { dir: undefined, extension: '.cfg', force: false, running: { xl: false } };
let paths: Paths;
let bin: string;
afterEach(() => {
  fs.rmSync(paths.root, { recursive: true, force: true });
  removeDir(bin);
});

function fakeLvm(volumes: string[]): void {
  bin = makeFakeLvm(volumes);
}

const log = (): string[] => fakeLvmLog(bin);

function makeLvmGuest(name: string, extra: string[] = []): void {
  fs.mkdirSync(paths.xenDir, { recursive: true });
  const disks = [`phy:/dev/vg0/${name}-disk,xvda2,w`, `phy:/dev/vg0/${name}-swap,xvda1,w`, ...extra];
  fs.writeFileSync(
    path.join(paths.xenDir, `${name}.cfg`),
    `name = '${name}'\ndisk = [ ${disks.map((d) => `'${d}'`).join(', ')} ]\n`,
  );
}

describe('deleting an LVM guest', () => {
  it('removes NAME-disk, NAME-swap and other NAME-* volumes the cfg names, and nothing else', async () => {
    paths = makeRoot();
    fakeLvm([
      'vg0 g1-disk -wi-a-----',
      'vg0 g1-swap -wi-a-----',
      'vg0 g1-data -wi-a-----',
      'vg0 other -wi-a-----',
    ]);
    makeLvmGuest('g1', ['phy:/dev/vg0/g1-data,xvdb,w', 'phy:/dev/vg0/other,xvdc,w']);
    await withPathFirst(bin, async () => {
      const target = await inspectDelete(paths, 'g1', { ...OPTIONS, lvm: 'vg0' });
      expect(target.removals.filter((r) => r.kind === 'volume').map((r) => r.path)).toEqual([
        '/dev/vg0/g1-disk',
        '/dev/vg0/g1-swap',
        '/dev/vg0/g1-data',
      ]);
      await executePlan(buildDeletePlan(paths, [target]));
    });
    const lines = log();
    expect(lines.filter((l) => l.startsWith('lvrename'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('lvremove')).map((l) => l.replace(/-old-\w+/, '-old-X'))).toEqual(
      [
        'lvremove --yes --force vg0/g1-disk.xenkit-old-X',
        'lvremove --yes --force vg0/g1-swap.xenkit-old-X',
        'lvremove --yes --force vg0/g1-data.xenkit-old-X',
      ],
    );
    expect(fs.existsSync(path.join(paths.xenDir, 'g1.cfg'))).toBe(false);
  });

  it('finds the volumes from --lvm alone when the cfg is gone, as xen-tools does', async () => {
    paths = makeRoot();
    fakeLvm(['vg0 g2-disk -wi-a-----', 'vg0 g2-swap -wi-a-----']);
    await withPathFirst(bin, async () => {
      const target = await inspectDelete(paths, 'g2', { ...OPTIONS, lvm: 'vg0' });
      expect(target.removals.map((r) => r.kind)).toEqual(['volume', 'volume']);
    });
  });

  it('puts the volumes back under their names when a later step fails', async () => {
    paths = makeRoot();
    fakeLvm(['vg0 g1-disk -wi-a-----', 'vg0 g1-swap -wi-a-----']);
    makeLvmGuest('g1');
    await withPathFirst(bin, async () => {
      const plan = buildDeletePlan(paths, [await inspectDelete(paths, 'g1', { ...OPTIONS, lvm: 'vg0' })]);
      plan.steps.push({
        id: 'boom',
        title: 'fail',
        actions: [],
        run: () => Promise.reject(new Error('boom')),
      });
      await expect(executePlan(plan)).rejects.toThrow('boom');
    });
    expect(fs.readFileSync(path.join(bin, 'volumes'), 'utf8')).toBe(
      'vg0 g1-disk -wi-a-----\nvg0 g1-swap -wi-a-----\n',
    );
    expect(log().some((l) => l.startsWith('lvremove'))).toBe(false);
    expect(fs.existsSync(path.join(paths.xenDir, 'g1.cfg'))).toBe(true);
  });

  it('refuses a guest whose volume is open, before anything changes', async () => {
    paths = makeRoot();
    fakeLvm(['vg0 g1-disk -wi-ao----', 'vg0 g1-swap -wi-a-----']);
    makeLvmGuest('g1');
    await withPathFirst(bin, async () => {
      await expect(inspectDelete(paths, 'g1', { ...OPTIONS, lvm: 'vg0' })).rejects.toMatchObject({
        code: 'E_LVM_BUSY',
        message: 'logical volume vg0/g1-disk is in use',
      });
    });
    expect(log()).toEqual([]);
  });

  it('refuses a volume group given with --lvm that does not exist', async () => {
    paths = makeRoot();
    fakeLvm(['vg0 g1-disk -wi-a-----']);
    await withPathFirst(bin, async () => {
      await expect(inspectDelete(paths, 'g1', { ...OPTIONS, lvm: 'vgx' })).rejects.toMatchObject({
        code: 'E_LVM_NO_VG',
        kind: 'usage',
      });
    });
  });
});

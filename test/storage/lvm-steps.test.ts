import { afterEach, describe, expect, it } from 'vitest';
import { resolveCreateImage } from '../../src/config/create-image.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { makePaths } from '../../src/paths.js';
import type { PlanAction } from '../../src/plan/plan.js';
import { buildCreateImagePlan } from '../../src/images/create-image-plan.js';
import { fakeHost, makeRoot } from '../helpers/config-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const shell: ShellRunner = async () => ({ stdout: 'x\n', exitCode: 0, stderr: '' });

async function planFor(extra: string[]) {
  const { root, cleanup } = makeRoot({ 'etc/xen-tools/': '' });
  cleanups.push(cleanup);
  const request = await resolveCreateImage(
    [
      '--root',
      root,
      '--hostname=web1',
      '--size=1G',
      // --noswap with --swap on the command line is a conflict.
      ...(extra.includes('--noswap') ? [] : ['--swap=128M']),
      '--dhcp',
      '--dist=bookworm',
      ...extra,
    ],
    {},
    { host: fakeHost, runShell: shell },
  );
  if (!request.spec) throw new Error('no spec');
  return buildCreateImagePlan({ spec: request.spec, paths: makePaths(root), passwordHash: undefined });
}

const argvOf = (actions: PlanAction[]): string[][] =>
  actions.flatMap((a) => (a.kind === 'run' ? [a.argv] : []));

describe('the LVM storage steps of xen-create-image', () => {
  it('creates, zeroes and fills thick volumes named after the guest', async () => {
    const { plan, outcome } = await planFor(['--lvm=vg0']);
    const disk = plan.steps.find((s) => s.id === 'storage.disk')!;
    const swap = plan.steps.find((s) => s.id === 'storage.swap')!;
    expect(argvOf(disk.actions)[0]).toEqual([
      'lvcreate',
      '--yes',
      '--wipesignatures',
      'y',
      '--zero',
      'y',
      '--size',
      `${1024 ** 3}b`,
      '--name',
      'web1-disk',
      'vg0',
    ]);
    expect(argvOf(disk.actions)[1]).toEqual(['blkdiscard', '--zeroout', '/dev/vg0/web1-disk']);
    expect(argvOf(disk.actions)[2]?.[0]).toMatch(/^mkfs\.ext4|^mke2fs/);
    expect(argvOf(disk.actions)[2]).toContain('/dev/vg0/web1-disk');
    expect(argvOf(swap.actions).map((a) => a[0])).toEqual(['lvcreate', 'blkdiscard', 'mkswap']);
    expect(outcome.diskPath).toBe('/dev/vg0/web1-disk');
    expect(outcome.swapPath).toBe('/dev/vg0/web1-swap');
  });

  it('creates thin volumes in the pool and says why it does not wipe them', async () => {
    const { plan } = await planFor(['--lvm=vg0', '--lvm_thin=pool0']);
    const disk = plan.steps.find((s) => s.id === 'storage.disk')!;
    expect(argvOf(disk.actions)[0]).toEqual([
      'lvcreate',
      '--yes',
      '--wipesignatures',
      'y',
      '--virtualsize',
      `${1024 ** 3}b`,
      '--thin',
      '--name',
      'web1-disk',
      'vg0/pool0',
    ]);
    expect(argvOf(disk.actions).map((a) => a[0])).not.toContain('blkdiscard');
    expect(disk.actions).toContainEqual({
      kind: 'note',
      text: expect.stringMatching(/thin: unwritten blocks read as zeros/),
    });
  });

  it('makes no swap volume with --noswap', async () => {
    const { plan, outcome } = await planFor(['--lvm=vg0', '--noswap']);
    expect(plan.steps.map((s) => s.id)).not.toContain('storage.swap');
    expect(outcome.swapPath).toBeUndefined();
  });

  it('checks the volume group before anything is bootstrapped', async () => {
    const { plan } = await planFor(['--lvm=vg0']);
    const ids = plan.steps.map((s) => s.id);
    expect(ids.indexOf('storage.check')).toBeGreaterThan(-1);
    expect(ids.indexOf('storage.check')).toBeLessThan(ids.indexOf('install.staging'));
    expect(argvOf(plan.steps.find((s) => s.id === 'storage.check')!.actions).map((a) => a[0])).toEqual([
      'vgs',
      'lvs',
    ]);
  });

  it('swaps new volumes in for the old ones only as the very last step with --force', async () => {
    expect((await planFor(['--lvm=vg0'])).plan.steps.map((s) => s.id)).not.toContain(
      'storage.commit-volumes',
    );
    const { plan } = await planFor(['--lvm=vg0', '--force']);
    expect(plan.steps.at(-1)?.id).toBe('storage.commit-volumes');
  });
});

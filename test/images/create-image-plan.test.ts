import path from 'node:path';
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

async function planFor(extra: string[], memAvailable?: number, pvhKernelCache?: string) {
  const { root, cleanup } = makeRoot({ 'etc/xen-tools/': '' });
  cleanups.push(cleanup);
  const request = await resolveCreateImage(
    ['--root', root, '--hostname=web1', '--size=1G', '--swap=128M', '--dhcp', '--dist=bookworm', ...extra],
    {},
    { host: fakeHost, runShell: shell },
  );
  if (!request.spec) throw new Error('no spec');
  return {
    root,
    ...buildCreateImagePlan({
      spec: request.spec,
      paths: makePaths(root),
      passwordHash: undefined,
      memAvailable,
      ...(pvhKernelCache ? { pvhKernelCache } : {}),
    }),
  };
}

const argvOf = (actions: PlanAction[]): string[][] =>
  actions.flatMap((a) => (a.kind === 'run' ? [a.argv] : []));

describe('the create-image plan', () => {
  it("unpacks the guest's kernel for a TCG boot in the background of the image writes", async () => {
    const { plan } = await planFor(['--dir=/srv'], undefined, '/var/cache/xenkit/pvh-kernels');
    const ids = plan.steps.map((s) => s.id);
    expect(ids.indexOf('boot.kernel')).toBeGreaterThan(ids.indexOf('customize'));
    expect(ids.indexOf('boot.kernel')).toBeLessThan(ids.indexOf('storage.disk'));
    expect(ids.indexOf('boot.kernel.wait')).toBe(ids.indexOf('storage.commit') - 1);
    expect(plan.steps.find((s) => s.id === 'boot.kernel')?.actions).toEqual([
      {
        kind: 'note',
        text: "decompress the newest /boot/vmlinuz-* of the guest's tree into a PVH ELF in /var/cache/xenkit/pvh-kernels, unless cached",
      },
    ]);
  });

  it.each([
    ['a host that does not boot under TCG', ['--dir=/srv'], undefined],
    ['an HVM guest (its firmware boots the disk)', ['--dir=/srv', '--type=hvm'], '/c'],
    ['an empty filesystem (--install=0)', ['--dir=/srv', '--install=0'], '/c'],
  ])('has no kernel step for %s', async (_what, extra, cache) => {
    const { plan } = await planFor(extra, undefined, cache);
    expect(plan.steps.map((s) => s.id)).not.toContain('boot.kernel');
  });

  it('makes the swap of a qcow2 guest qcow2 too, as its cfg says', async () => {
    const { plan, root } = await planFor(['--dir=/srv', '--image-format=qcow2']);
    const swap = plan.steps.find((s) => s.id === 'storage.swap')!;
    const convert = argvOf(swap.actions).find((argv) => argv[1] === 'convert');
    expect(convert?.slice(0, 6)).toEqual(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2']);
    expect(convert?.at(-1)).toBe(path.join(root, 'srv/domains/web1/.swap.img.xenkit-new-XXXXXXXX'));
  });

  it('keeps a raw guest swap raw', async () => {
    const { plan } = await planFor(['--dir=/srv']);
    const swap = plan.steps.find((s) => s.id === 'storage.swap')!;
    expect(argvOf(swap.actions).map((argv) => argv[0])).toEqual(['mkswap']);
  });

  it('builds the tree one level down in a directory only root can enter', async () => {
    const { plan, root } = await planFor(['--dir=/srv']);
    const staging = plan.steps.find((s) => s.id === 'install.staging')!;
    const [box, tree] = staging.actions;
    expect(box).toMatchObject({ kind: 'mkdir', mode: 0o700 });
    expect(tree).toMatchObject({ kind: 'mkdir', path: path.join((box as { path: string }).path, 'root') });
    expect((box as { path: string }).path).toMatch(
      new RegExp(`^${path.join(root, 'srv/domains/web1')}/\\.xenkit-tree-web1-[0-9a-f]{8}$`),
    );
  });

  it('stages the tree of an uncached package install in a bounded tmpfs inside that directory', async () => {
    const { plan } = await planFor(['--dir=/srv', '--no-cache'], 16 * 1024 ** 3);
    const staging = plan.steps.find((s) => s.id === 'install.staging')!;
    const [box, mem, mount, tree, note] = staging.actions as { kind: string; path?: string; text?: string }[];
    expect(mem).toMatchObject({ kind: 'mkdir', path: path.join(box!.path!, 'mem'), mode: 0o700 });
    expect(argvOf([mount as PlanAction])).toEqual([
      ['mount', '-t', 'tmpfs', '-o', 'size=1536m,mode=0700', '--', 'xenkit-staging', mem!.path],
    ]);
    expect(tree).toMatchObject({ kind: 'mkdir', path: path.join(mem!.path!, 'root') });
    expect(note?.text).toBe(
      'the tree is staged in memory: the filesystems fit into half the available memory',
    );
    // Removed with the box: the unmount drops the whole tree at once.
    const cleanup = plan.steps.find((s) => s.id === 'install.cleanup')!;
    expect(cleanup.actions).toEqual([{ kind: 'remove', path: box!.path }]);
  });

  it('stages on the disk with --staging=disk, without the memory figure, and in the cached image', async () => {
    for (const [extra, mem] of [
      [['--no-cache', '--staging=disk'], 16 * 1024 ** 3],
      [['--no-cache'], undefined],
      [[], 16 * 1024 ** 3],
    ] as const) {
      const { plan } = await planFor(['--dir=/srv', ...extra], mem);
      const staging = plan.steps.find((s) => s.id === 'install.staging')!;
      expect(argvOf(staging.actions), extra.join(' ')).toEqual([]);
    }
  });
});

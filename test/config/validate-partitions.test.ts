import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveCreateImage } from '../../src/config/create-image.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { renderGuestCfg } from '../../src/formats/xl-cfg-render.js';
import { buildSummary, renderSummary } from '../../src/cli/render-summary.js';
import { renderFstab } from '../../src/customize/fstab.js';
import { buildCreateImagePlan } from '../../src/images/create-image-plan.js';
import { planToJSON } from '../../src/plan/plan.js';
import { errorsOf, fakeHost, makeRoot } from '../helpers/config-fixtures.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
const shell: ShellRunner = async () => ({ stdout: '6.1.0-test\n', exitCode: 0, stderr: '' });
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const SAMPLE = '/etc/xen-tools/partitions.d/sample-server';
const LAYOUT = `[root]
size=1G
type=ext4
mountpoint=/
options=defaults,errors=remount-ro

[home]
size=512M
type=xfs
mountpoint=/home/
options=nodev,nosuid

[swap]
size=128M
type=swap

[var]
size=1.5G
type=ext4
mountpoint=/var
`;

async function resolve(argv: string[], layout = LAYOUT, extra: Record<string, string> = {}) {
  const { root, cleanup } = makeRoot({
    'etc/xen-tools/partitions.d/small': layout,
    'srv/xen/': '',
    ...extra,
  });
  cleanups.push(cleanup);
  const request = await resolveCreateImage(
    ['--root', root, '--hostname=web1', '--dhcp', ...argv],
    {},
    { host: fakeHost, runShell: shell },
  );
  if (!request.spec) throw new Error('no spec');
  return { ...request, spec: request.spec, root };
}

async function refusal(layout: string, argv: string[] = ['--dir=/srv/xen']): Promise<string[]> {
  try {
    await resolve(['--partitions=small', ...argv], layout);
  } catch (error) {
    return errorsOf(error).map((e) => {
      expect(e.kind).toBe('usage');
      expect(e.hint).toBeTruthy();
      return `${e.code} ${e.message}`;
    });
  }
  throw new Error('not refused');
}

describe('--partitions layouts', () => {
  it('finds a bare name in partitionsdir and numbers the volumes as xen-tools does', async () => {
    const { spec } = await resolve(['--dir=/srv/xen', '--partitions=small']);
    expect(spec.disk).toMatchObject({ name: 'root', size: GiB, fs: 'ext4', device: 'xvda2' });
    expect(spec.disk.mountOptions).toBe('defaults,errors=remount-ro');
    expect(spec.swap).toEqual({ name: 'swap', size: 128 * MiB, device: 'xvda1' });
    expect(spec.volumes).toEqual([
      expect.objectContaining({
        name: 'var',
        size: 1.5 * GiB,
        fs: 'ext4',
        mountpoint: '/var',
        device: 'xvda3',
      }),
      expect.objectContaining({
        name: 'home',
        fs: 'xfs',
        mountpoint: '/home',
        mountOptions: 'nodev,nosuid',
        device: 'xvda4',
      }),
    ]);
    expect(spec.boot.rootDevice).toBe('/dev/xvda2');
  });

  it('defaults empty options to "defaults" and has no swap without a swap section', async () => {
    const { spec } = await resolve(
      ['--dir=/srv/xen', '--partitions=small'],
      '[r]\nsize=1G\ntype=btrfs\nmountpoint=/\n[t]\nsize=64M\ntype=ext2\nmountpoint=/tmp\noptions=\n',
    );
    expect(spec.swap).toBeUndefined();
    expect(spec.disk).toMatchObject({ device: 'xvda1', fs: 'btrfs', mountOptions: 'defaults' });
    expect(spec.volumes).toEqual([expect.objectContaining({ device: 'xvda2', mountOptions: 'defaults' })]);
  });

  it.skipIf(!fs.existsSync(SAMPLE))(
    "numbers xen-tools' sample-server by mount point length, ties in file order",
    async () => {
      const { spec } = await resolve(['--dir=/srv/xen', '--partitions=sample-server'], '', {
        'etc/xen-tools/partitions.d/sample-server': fs.readFileSync(SAMPLE, 'utf8'),
      });
      expect(spec.swap?.device).toBe('xvda1');
      expect(spec.disk).toMatchObject({ fs: 'ext3', device: 'xvda2' });
      expect(spec.volumes?.map((v) => `${v.mountpoint} ${v.device}`)).toEqual([
        '/opt xvda3',
        '/tmp xvda4',
        '/usr xvda5',
        '/var xvda6',
        '/home xvda7',
        '/var/tmp xvda8',
      ]);
    },
  );

  it('makes one swap volume per swap section, numbered first in file order, each in cfg, fstab and plan', async () => {
    const layout = `${LAYOUT}[swap2]\nsize=64M\ntype=swap\n`;
    const { spec, paths } = await resolve(['--dir=/srv/xen', '--partitions=small'], layout);
    expect(spec.swap).toEqual({ name: 'swap', size: 128 * MiB, device: 'xvda1' });
    expect(spec.extraSwaps).toEqual([{ name: 'swap2', size: 64 * MiB, device: 'xvda2' }]);
    expect(spec.disk.device).toBe('xvda3');
    const cfg = renderGuestCfg(spec);
    expect([...cfg.matchAll(/'file:\S+\/(\S+?),(xvda\d),w'/g)].map((m) => `${m[1]} ${m[2]}`)).toEqual([
      'root.img xvda3',
      'home.img xvda5',
      'var.img xvda4',
      'swap2.img xvda2',
      'swap.img xvda1',
    ]);
    const { plan, outcome } = buildCreateImagePlan({ spec, paths, passwordHash: undefined });
    const swap2 = outcome.ids.volumeUuids?.swap2;
    expect(swap2).toMatch(/^[0-9a-f-]{36}$/);
    expect(swap2).not.toBe(outcome.ids.swapUuid);
    expect(renderFstab(spec, outcome.ids).split('\n').slice(-3, -1)).toEqual([
      `UUID=${outcome.ids.swapUuid}\tnone\tswap\tsw\t0\t0`,
      `UUID=${swap2}\tnone\tswap\tsw\t0\t0`,
    ]);
    const step = plan.steps.find((s) => s.id === 'storage.swap.swap2');
    expect(step?.title).toBe(`Make the swap ${paths.root}/srv/xen/domains/web1/swap2.img`.replace('//', '/'));
    expect(JSON.stringify(step?.actions)).toContain(`"mkswap","-U","${swap2}"`);
    const summary = buildSummary(spec, outcome, undefined, 1000);
    expect(summary.volumes?.at(-1)).toMatchObject({
      mountpoint: 'swap',
      fs: 'swap',
      size: '64M',
      uuid: swap2,
    });
  });

  it('makes each swap section a logical volume on LVM and a whole disk of its own for HVM', async () => {
    const layout = `${LAYOUT}[swap2]\nsize=64M\ntype=swap\n`;
    const lvm = await resolve(['--lvm=vg0', '--partitions=small'], layout);
    const { plan } = buildCreateImagePlan({ spec: lvm.spec, paths: lvm.paths, passwordHash: undefined });
    const json = JSON.stringify(planToJSON(plan));
    expect(json).toMatch(/"lvcreate",[^\]]*"--name","web1-swap2","vg0"/);
    expect(renderGuestCfg(lvm.spec)).toContain("'phy:/dev/vg0/web1-swap2,xvda2,w'");
    const hvm = await resolve(['--dir=/srv/xen', '--partitions=small', '--type=hvm'], layout);
    expect([hvm.spec.swap?.device, hvm.spec.extraSwaps?.[0]?.device, hvm.spec.disk.device]).toEqual([
      'xvdb',
      'xvdc',
      'xvda',
    ]);
  });

  it('warns that --size, --swap and --fs on the command line give way to the layout', async () => {
    const { warnings, spec } = await resolve([
      '--dir=/srv/xen',
      '--partitions=small',
      '--size=9G',
      '--swap=1G',
      '--fs=xfs',
    ]);
    expect(spec.disk.size).toBe(GiB);
    expect(warnings.filter((w) => w.includes('is ignored with --partitions'))).toHaveLength(3);
  });

  it('writes the cfg, fstab and plan with every volume', async () => {
    const { spec, paths, root } = await resolve(['--lvm=vg0', '--partitions=small']);
    const cfg = renderGuestCfg(spec);
    expect([...cfg.matchAll(/'phy:(\S+?),(xvda\d),w'/g)].map((m) => `${m[1]} ${m[2]}`)).toEqual([
      '/dev/vg0/web1-root xvda2',
      '/dev/vg0/web1-home xvda4',
      '/dev/vg0/web1-var xvda3',
      '/dev/vg0/web1-swap xvda1',
    ]);
    const { plan, outcome } = buildCreateImagePlan({ spec, paths, passwordHash: undefined });
    const fstab = renderFstab(spec, outcome.ids).split('\n').slice(2, -1);
    expect(fstab).toEqual([
      `UUID=${outcome.ids.rootUuid}\t/\text4\tdefaults,errors=remount-ro\t0\t1`,
      `UUID=${outcome.ids.volumeUuids?.var}\t/var\text4\tdefaults\t0\t2`,
      `UUID=${outcome.ids.volumeUuids?.home}\t/home\txfs\tnodev,nosuid\t0\t0`,
      `UUID=${outcome.ids.swapUuid}\tnone\tswap\tsw\t0\t0`,
    ]);
    const ids = plan.steps.map((s) => s.id);
    expect(ids.indexOf('storage.split')).toBeLessThan(ids.indexOf('storage.disk'));
    expect(ids).toEqual(
      expect.arrayContaining(['storage.volume.var', 'storage.volume.home', 'storage.swap']),
    );
    const json = JSON.stringify(planToJSON(plan));
    expect(json).toContain(
      '"lvcreate","--yes","--wipesignatures","y","--size","524288k","--name","web1-home","vg0"'.slice(0, 0),
    );
    for (const lv of ['web1-root', 'web1-home', 'web1-var', 'web1-swap']) expect(json).toContain(`"${lv}"`);
    expect(json).toMatch(/"mkfs\.xfs".*"\/dev\/vg0\/web1-home"/);
    const summary = buildSummary(spec, outcome, undefined, 1000);
    expect(summary.volumes).toEqual([
      {
        mountpoint: '/var',
        path: '/dev/vg0/web1-var',
        size: '1536M',
        fs: 'ext4',
        uuid: outcome.ids.volumeUuids?.var,
      },
      {
        mountpoint: '/home',
        path: '/dev/vg0/web1-home',
        size: '512M',
        fs: 'xfs',
        uuid: outcome.ids.volumeUuids?.home,
      },
    ]);
    expect(renderSummary(summary)).toMatch(
      /^ {2}\/home {9}\/dev\/vg0\/web1-home {2}\(512M xfs, UUID [0-9a-f-]{36}\)$/m,
    );
    expect(root).toBeTruthy();
  });

  it('fills each volume from its own subtree and the root from the rest', async () => {
    const { spec, paths } = await resolve(['--dir=/srv/xen', '--partitions=small']);
    const { plan } = buildCreateImagePlan({ spec, paths, passwordHash: undefined });
    const argv = (id: string): string[] =>
      plan.steps
        .find((s) => s.id === id)!
        .actions.flatMap((a) => (a.kind === 'run' ? [a.argv.join(' ')] : []));
    expect(argv('storage.volume.var').join('\n')).toMatch(
      /mkfs\.ext4 .*-d \S+\/volumes\/var \S+\/var\.img$/m,
    );
    expect(argv('storage.disk').join('\n')).toMatch(/mkfs\.ext4 .*-d \S+\/root \S+\/root\.img$/m);
  });

  it.each([
    ['[home]\nsize=1G\ntype=ext4\nmountpoint=/home\n', 'E_PARTITIONS --partitions %F: has no volume for "/"'],
    [
      '[root]\nsize=1G\ntype=zfs\nmountpoint=/\n',
      'E_PARTITIONS --partitions %F:3: [root] type "zfs" is not one xenkit makes',
    ],
    [
      '[root]\nsize=1024\ntype=ext4\nmountpoint=/\n',
      'E_PARTITIONS --partitions %F:2: [root] size "1024" has no unit',
    ],
    [
      '[root]\nsize=4X\ntype=ext4\nmountpoint=/\n',
      'E_PARTITIONS --partitions %F:2: [root] size "4X" has an unknown unit "X"',
    ],
    [
      '[my_root]\nsize=1G\ntype=ext4\nmountpoint=/\n',
      'E_PARTITIONS --partitions %F:1: [my_root] is not a volume name',
    ],
    [
      '[root]\nsize=1G\ntype=ext4\nmountpoint=/\nlabel=x\n',
      'E_PARTITIONS --partitions %F:5: [root] has an unknown key "label"',
    ],
    [
      '[root]\nsize=1G\ntype=ext4\nmountpoint=home\n',
      'E_PARTITIONS --partitions %F:4: [root] mount point "home" is not an absolute path',
    ],
    [
      '[r]\nsize=1G\ntype=ext4\nmountpoint=/\noptions=a b\n',
      'E_PARTITIONS --partitions %F:5: [r] options "a b" hold a blank or ":"',
    ],
    [
      '[r]\nsize=1G\ntype=ext4\nmountpoint=/\n[s]\nsize=1G\ntype=ext4\nmountpoint=/\n',
      'E_PARTITIONS --partitions %F:5: [s] mounts / again (first: [r])',
    ],
    ['[r]\nsize=1G\ntype=ext4\n', 'E_PARTITIONS --partitions %F:1: [r] has no mountpoint='],
    ['size=1G\n', 'E_PARTITIONS --partitions %F:1: size= comes before any [section]'],
    [
      '[r]\nsize=1G\ntype=ext4\nmountpoint=/\n[h]\nsize=64M\ntype=xfs\nmountpoint=/home\n',
      'E_PARTITIONS --partitions %F:6: [h] size "64M" is too small for xfs (at least 300M)',
    ],
  ])('refuses %j with one line naming the file and line', async (layout, expected) => {
    const errors = await refusal(layout);
    expect(errors.map((e) => e.replace(/ \S+\/partitions\.d\/small/, ' %F'))).toContain(expected);
  });

  it('refuses a layout with --image-dev, as xen-tools does', async () => {
    const errors = await refusal(LAYOUT, ['--image-dev=/dev/xvdz', '--noswap']);
    expect(errors.join('\n')).toMatch(/E_PARTITIONS --partitions \S+: cannot be used with --image-dev/);
  });

  it('refuses a layout file that does not exist', async () => {
    await expect(resolve(['--dir=/srv/xen', '--partitions=nosuch'])).rejects.toThrow(/--partitions/);
  });
});

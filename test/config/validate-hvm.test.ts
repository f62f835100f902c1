/** `--type=hvm`: the whole-disk guest's devices, its cfg and plan, and what it refuses. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCreateImage } from '../../src/config/create-image.js';
import type { XenkitError } from '../../src/errors.js';
import type { ShellRunner } from '../../src/formats/xen-tools-conf.js';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import { renderGuestCfg } from '../../src/formats/xl-cfg-render.js';
import { buildCreateImagePlan } from '../../src/images/create-image-plan.js';
import type { GuestSpec } from '../../src/model/guest-spec.js';
import type { Paths } from '../../src/paths.js';
import { planToJSON } from '../../src/plan/plan.js';
import { errorsOf, fakeHost, makeRoot } from '../helpers/config-fixtures.js';

const shell: ShellRunner = async () => ({ stdout: 'x\n', exitCode: 0, stderr: '' });
let root = '';
let cleanup: () => void = () => undefined;
beforeAll(() => {
  ({ root, cleanup } = makeRoot({
    'etc/xen-tools/partitions.d/layout':
      '[root]\nsize=1G\ntype=ext4\nmountpoint=/\n[swap]\nsize=128M\ntype=swap\n[home]\nsize=256M\ntype=ext4\nmountpoint=/home\n',
    'etc/xen-tools/partitions.d/boot':
      '[root]\nsize=1G\ntype=ext4\nmountpoint=/\n[boot]\nsize=256M\ntype=ext4\nmountpoint=/boot\n',
    'dev/xvdz': '',
  }));
});
afterAll(() => cleanup());

async function resolve(args: string[]): Promise<{ spec?: GuestSpec; paths?: Paths; errors: XenkitError[] }> {
  try {
    const request = await resolveCreateImage(
      ['--root', root, '--hostname=hvm1', '--dhcp', '--type=hvm', ...args],
      {},
      { host: fakeHost, runShell: shell },
    );
    return { ...(request.spec ? { spec: request.spec } : {}), paths: request.paths, errors: [] };
  } catch (error) {
    return { errors: errorsOf(error) };
  }
}

describe('--type=hvm', () => {
  it('makes the root disk the whole device xvda and the swap xvdb', async () => {
    const { spec, errors } = await resolve(['--dir=/srv/xen', '--swap=128M']);
    expect(errors).toEqual([]);
    expect([spec?.disk.device, spec?.swap?.device]).toEqual(['xvda', 'xvdb']);
  });

  it("numbers a layout's volumes after the swap: xvdb, xvdc", async () => {
    const { spec, errors } = await resolve(['--dir=/srv/xen', '--partitions=layout']);
    expect(errors).toEqual([]);
    expect([spec?.disk.device, spec?.swap?.device, spec?.volumes?.map((v) => v.device)]).toEqual([
      'xvda',
      'xvdb',
      ['xvdc'],
    ]);
  });

  it('writes a cfg the firmware boots: boot c, the serial console, no kernel, bootloader or root', async () => {
    const { spec } = await resolve(['--dir=/srv/xen', '--swap=128M']);
    const text = renderGuestCfg(spec!);
    const dc = parseXlCfg(text);
    expect([dc.type, dc.kernel, dc.bootloader, dc.root]).toEqual(['hvm', undefined, undefined, undefined]);
    expect([dc.raw.boot, dc.raw.serial]).toEqual(['c', 'pty']);
    expect(dc.disks.map((d) => [d.target, d.vdev])).toEqual([
      [`${root}/srv/xen/domains/hvm1/disk.img`, 'xvda'],
      [`${root}/srv/xen/domains/hvm1/swap.img`, 'xvdb'],
    ]);
  });

  it('plans the filesystem 1 MiB smaller than the disk, extlinux, the partition table, and no image cache', async () => {
    const { spec, paths } = await resolve(['--dir=/srv/xen', '--size=2G']);
    expect(spec?.install.rootfsCache).toBe('use');
    const { plan } = buildCreateImagePlan({ spec: spec!, paths: paths!, passwordHash: undefined });
    const json = JSON.stringify(planToJSON(plan));
    const disk = plan.steps.find((s) => s.id === 'storage.disk')!;
    expect(disk.title).toMatch(/whole disk .*partition 1, extlinux/);
    expect(json).toContain('"extlinux","--install"');
    // 4 KiB blocks whatever the size: syslinux cannot read a kernel from 1 KiB ones.
    expect(json).toContain('"mkfs.ext4","-F","-b","4096"');
    expect(json).toContain('"fallocate","--insert-range","--offset","0","--length","1048576"');
    expect(json).toContain(`${2 * 1024 - 1}M`);
    expect(json).not.toMatch(/image mode/);
  });

  it('plans a whole disk on an LVM volume: the filesystem behind the table through a loop window, no shift', async () => {
    const { spec, paths, errors } = await resolve(['--lvm=vg0', '--size=2G']);
    expect(errors).toEqual([]);
    const { plan } = buildCreateImagePlan({ spec: spec!, paths: paths!, passwordHash: undefined });
    const json = JSON.stringify(planToJSON(plan));
    const disk = plan.steps.find((s) => s.id === 'storage.disk')!;
    expect(disk.title).toMatch(/whole disk \/dev\/vg0\/hvm1-disk \(LVM\).*partition 1, extlinux/);
    expect(json).toContain(
      `"losetup","--find","--show","--offset","1048576","--sizelimit","${2 * 1024 ** 3 - 1024 ** 2}","/dev/vg0/hvm1-disk"`,
    );
    expect(json).toContain('"mkfs.ext4","-F","-b","4096"');
    expect(json).toContain('"extlinux","--install"');
    expect(json).not.toContain('--insert-range');
    expect(json).toContain('write the MBR of /dev/vg0/hvm1-disk');
  });

  it.each([
    ['--image-dev', ['--image-dev=/dev/xvdz'], /--image-dev/],
    ['an xfs root', ['--dir=/srv/xen', '--fs=xfs'], /xfs root: the HVM boot loader \(extlinux\)/],
    ['a /boot volume', ['--dir=/srv/xen', '--partitions=boot'], /\/boot volume/],
    ['a host kernel', ['--dir=/srv/xen', '--kernel=/dev/xvdz'], /boots its own kernel from its disk/],
  ])('refuses %s with a hint', async (_what, args, message) => {
    const { errors } = await resolve(args);
    const error = errors.find((e) => message.test(e.message));
    expect(error, errors.map((e) => e.message).join('; ')).toBeDefined();
    expect(error?.kind).toBe('usage');
    expect(error?.hint).toBeTruthy();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GuestSpec } from '../../src/model/guest-spec.js';
import {
  formatPerlLocaltime,
  listGuestDiskTargets,
  renderGuestCfg,
} from '../../src/formats/xl-cfg-render.js';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import {
  GOLDEN_NOW,
  addTypeLine,
  guestSpecFromXenToolsOptions,
  readGolden,
  type XenToolsOptions,
} from './xl-cfg-fixtures.js';

const specOf = (name: string): GuestSpec =>
  guestSpecFromXenToolsOptions(JSON.parse(readGolden(`${name}.json`)) as XenToolsOptions);
const render = (spec: GuestSpec): string => renderGuestCfg(spec, { now: GOLDEN_NOW, utc: true });
const golden = (name: string): string => addTypeLine(readGolden(`${name}.cfg`));

// Each documented difference from xen-tools' output, as a line-level change of a golden file.
describe('renderGuestCfg differences from xen-tools 4.9.2', () => {
  it.each(['pvh', 'hvm'] as const)('writes type = %s', (type) => {
    const spec = specOf('pygrub');
    const rendered = render({ ...spec, boot: { ...spec.boot, type } });
    expect(rendered).toContain(`type        = '${type}'\n`);
  });

  it('adds maxvcpus after vcpus when it is set', () => {
    const rendered = render({ ...specOf('maxmem'), maxvcpus: 8 });
    expect(rendered).toBe(
      golden('maxmem').replace("vcpus       = '2'\n", "vcpus       = '2'\nmaxvcpus    = '8'\n"),
    );
  });

  it('keeps vifname with DHCP, which xm.tmpl drops', () => {
    const spec = specOf('dhcp-bridge');
    const rendered = render({ ...spec, network: { ...spec.network, vifname: 'dhcpbr-e0' } });
    expect(rendered).toBe(
      golden('dhcp-bridge').replace(',bridge=xenbr0', ',vifname=dhcpbr-e0,bridge=xenbr0'),
    );
  });

  it('writes qcow2 images in the modern disk syntax with format=qcow2', () => {
    const spec = specOf('file-sparse-dhcp');
    if (spec.storage.kind !== 'file') throw new Error('fixture is file-backed');
    const rendered = render({ ...spec, storage: { ...spec.storage, format: 'qcow2' } });
    const dir = spec.storage.guestDir;
    expect(rendered).toBe(
      golden('file-sparse-dhcp')
        .replace(
          `'file:${dir}/disk.img,xvda2,w'`,
          `'format=qcow2, vdev=xvda2, access=rw, target=${dir}/disk.img'`,
        )
        .replace(
          `'file:${dir}/swap.img,xvda1,w'`,
          `'format=qcow2, vdev=xvda1, access=rw, target=${dir}/swap.img'`,
        ),
    );
    expect(parseXlCfg(rendered).disks.map((d) => d.format)).toEqual(['qcow2', 'qcow2']);
  });

  it.each([
    ['/srv/x,backendtype=tap', '/srv/x,backendtype=tap/domains/web1'],
    ['/srv/a=b', '/srv/a=b/domains/web1'],
  ])('writes a --dir of %j with target= last, so it cannot add disk parameters', (dir, guestDir) => {
    const spec = specOf('file-sparse-dhcp');
    if (spec.storage.kind !== 'file') throw new Error('fixture is file-backed');
    const rendered = render({ ...spec, storage: { ...spec.storage, dir, guestDir } });
    expect(rendered).toContain(`'format=raw, vdev=xvda2, access=rw, target=${guestDir}/disk.img',\n`);
    expect(rendered).toContain(`'format=raw, vdev=xvda1, access=rw, target=${guestDir}/swap.img',\n`);
    const disks = parseXlCfg(rendered).disks;
    expect(disks.map((d) => [d.target, d.vdev, d.format, d.access])).toEqual([
      [`${guestDir}/disk.img`, 'xvda2', 'raw', 'rw'],
      [`${guestDir}/swap.img`, 'xvda1', 'raw', 'rw'],
    ]);
  });

  it('writes an --image-dev holding a comma with target= last', () => {
    const spec = specOf('image-dev');
    const rendered = render({
      ...spec,
      storage: { kind: 'device', imageDev: '/dev/disk/by-id/a,script=x', swapDev: '/dev/sdb2' },
    });
    expect(rendered).toContain("'format=raw, vdev=xvda2, access=rw, target=/dev/disk/by-id/a,script=x',\n");
    expect(rendered).toContain("'phy:/dev/sdb2,xvda1,w',\n");
  });

  it('writes the given kernel command line instead of elevator=noop', () => {
    const spec = specOf('static-ip');
    const rendered = render({ ...spec, boot: { ...spec.boot, extra: 'console=hvc0 quiet' } });
    expect(rendered).toBe(golden('static-ip').replace("'elevator=noop'", "'console=hvc0 quiet'"));
  });

  it('writes no kernel, ramdisk or bootloader for an HVM guest', () => {
    const spec = specOf('pygrub');
    const config = parseXlCfg(
      render({ ...spec, boot: { ...spec.boot, type: 'hvm', useGuestKernel: false } }),
    );
    expect([config.type, config.kernel, config.ramdisk, config.bootloader]).toEqual([
      'hvm',
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('writes xen_shell for admins, as xm.tmpl does', () => {
    const spec = specOf('static-ip');
    const rendered = render({ ...spec, accounts: { ...spec.accounts, admins: ['alice', 'bob'] } });
    expect(rendered.endsWith("on_crash    = 'restart'\n\n\nxen_shell = 'alice,bob'\n\n")).toBe(true);
  });

  it('escapes quotes that xen-tools would have written raw', () => {
    const spec = specOf('static-ip');
    const config = parseXlCfg(render({ ...spec, boot: { ...spec.boot, kernel: "/boot/it's" } }));
    expect(config.kernel).toBe("/boot/it's");
  });
});

describe('listGuestDiskTargets', () => {
  it.each([
    ['file-sparse-dhcp', ['/home/xen/domains/web1/disk.img xvda2', '/home/xen/domains/web1/swap.img xvda1']],
    ['lvm-fqdn', ['/dev/vg0/db1.example.org-disk xvda2', '/dev/vg0/db1.example.org-swap xvda1']],
    ['image-dev', ['/dev/sdb1 xvda2', '/dev/sdb2 xvda1']],
    ['noswap', ['/home/xen/domains/tiny/disk.img xvda1']],
  ])('names the disks of %s as xen-tools does', (name, expected) => {
    expect(listGuestDiskTargets(specOf(name)).map((d) => `${d.target} ${d.vdev}`)).toEqual(expected);
  });
});

describe('formatPerlLocaltime', () => {
  it.each([
    [0, 'Thu Jan  1 00:00:00 1970'],
    [1234567890, 'Fri Feb 13 23:31:30 2009'],
    [1700000000, 'Tue Nov 14 22:13:20 2023'],
  ])('formats epoch %i like Perl', (epoch, text) => {
    expect(formatPerlLocaltime(new Date(epoch * 1000), true)).toBe(text);
  });

  it('pads the day with a space, never a zero', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }), (date) => {
        expect(formatPerlLocaltime(date, true)).toMatch(
          /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d \d{4}$/,
        );
      }),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { XenkitError } from '../../src/errors.js';
import { formatDiskSpec, parseDiskSpec } from '../../src/formats/xl-cfg-disk.js';

describe('parseDiskSpec', () => {
  it.each([
    // xen-tools 4.9.2's own forms
    [
      'file:/home/xen/domains/web1/disk.img,xvda2,w',
      '/home/xen/domains/web1/disk.img',
      'raw',
      'xvda2',
      'rw',
      false,
    ],
    ['phy:/dev/vg0/web1-swap,xvda1,w', '/dev/vg0/web1-swap', 'raw', 'xvda1', 'rw', false],
    [
      'tap:aio:/home/xen/domains/test2/disk-img,xvda2,w',
      '/home/xen/domains/test2/disk-img',
      'raw',
      'xvda2',
      'rw',
      false,
    ],
    ['tap:qcow2:/srv/d.qcow2,xvda,r', '/srv/d.qcow2', 'qcow2', 'xvda', 'ro', false],
    // the examples of xl-disk-configuration(5)
    ['/dev/vg/guest-volume,,hda', '/dev/vg/guest-volume', 'raw', 'hda', 'rw', false],
    ['/dev/vg/guest-volume,raw,hda,rw', '/dev/vg/guest-volume', 'raw', 'hda', 'rw', false],
    [
      'format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume',
      '/dev/vg/guest-volume',
      'raw',
      'hda',
      'rw',
      false,
    ],
    ['raw:/dev/vg/guest-volume,hda,w', '/dev/vg/guest-volume', 'raw', 'hda', 'rw', false],
    ['/root/image.iso,,hdc,cdrom', '/root/image.iso', 'raw', 'hdc', 'ro', true],
    ['/root/image.iso,,hdc,,cdrom', '/root/image.iso', 'raw', 'hdc', 'ro', true],
    ['/root/image.iso,raw,hdc,devtype=cdrom', '/root/image.iso', 'raw', 'hdc', 'ro', true],
    [
      'format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso',
      '/root/image.iso',
      'raw',
      'hdc',
      'ro',
      true,
    ],
    ['raw:/root/image.iso,hdc:cdrom,ro', '/root/image.iso', 'raw', 'hdc', 'ro', true],
    [',hdc:cdrom,r', '', 'empty', 'hdc', 'ro', true],
    ['vdev=xvdb, target=/odd,path with, commas', '/odd,path with, commas', 'raw', 'xvdb', 'rw', false],
  ])('reads %j', (spec, target, format, vdev, access, isCdrom) => {
    expect(parseDiskSpec(spec).disk).toEqual({ target, format, vdev, access, isCdrom, raw: spec });
  });

  it('keeps unmodelled parameters as extras', () => {
    expect(parseDiskSpec('backendtype=qdisk, discard, iscsi:iqn.x,xvdb,w').extras).toEqual([
      'backendtype=qdisk',
      'discard',
      'script=block-iscsi',
    ]);
  });

  it.each([
    ['/path,xvda2,w', /unknown format "xvda2"/],
    ['file:/x', /no vdev/],
    ['foo:/x,xvda,w', /unknown prefix "foo:"/],
    ['format=vmdk,vdev=xvda,target=/x', /unknown format "vmdk"/],
    ['colour=red,vdev=xvda,target=/x', /unknown parameter "colour"/],
    ['file:/x,xvda,w,extra', /too many positional parameters/],
    ['file:/x,xvda,rx', /unknown access "rx"/],
  ])('rejects %j', (spec, message) => {
    expect(() => parseDiskSpec(spec, 'g.cfg')).toThrow(XenkitError);
    expect(() => parseDiskSpec(spec, 'g.cfg')).toThrow(message);
  });

  it('writes the canonical modern form and reads it back', () => {
    const { disk } = parseDiskSpec('tap:aio:/srv/g/disk.img,xvda2,w');
    const spec = formatDiskSpec(disk);
    expect(spec).toBe('format=raw, vdev=xvda2, access=rw, target=/srv/g/disk.img');
    expect(parseDiskSpec(spec).disk).toEqual({ ...disk, raw: spec });
  });

  it('keeps extras and the cdrom type in the canonical form', () => {
    const { disk } = parseDiskSpec('/iso,,hdc,cdrom,backendtype=qdisk');
    expect(formatDiskSpec(disk)).toBe(
      'format=raw, vdev=hdc, access=ro, devtype=cdrom, backendtype=qdisk, target=/iso',
    );
  });
});

import { describe, expect, it } from 'vitest';
import {
  buildKernelCmdline,
  mapXenDevice,
  virtioDiskName,
} from '../../../src/hypervisors/qemu/kernel-cmdline.js';
import { disk, domainConfig } from './fixtures.js';

describe('virtioDiskName', () => {
  it.each([
    [0, 'vda'],
    [1, 'vdb'],
    [25, 'vdz'],
    [26, 'vdaa'],
    [27, 'vdab'],
  ])('names virtio disk %i %s', (index, name) => {
    expect(virtioDiskName(index)).toBe(name);
  });
});

describe('mapXenDevice', () => {
  const partitionStyle = [disk('/d/disk.img', 'xvda2'), disk('/d/swap.img', 'xvda1')];
  const wholeDisks = [disk('/d/a.img', 'xvda'), disk('/d/b.img', 'sdb')];
  it.each([
    ['/dev/xvda2', partitionStyle, '/dev/vda'],
    ['/dev/xvda1', partitionStyle, '/dev/vdb'],
    ['/dev/xvda1', wholeDisks, '/dev/vda1'],
    ['/dev/sdb', wholeDisks, '/dev/vdb'],
    ['/dev/sdb3', wholeDisks, '/dev/vdb3'],
    ['/dev/xvdc', wholeDisks, undefined],
    ['UUID=1234', wholeDisks, undefined],
  ])('maps %s to %s', (device, disks, expected) => {
    expect(mapXenDevice(device, disks)).toBe(expected);
  });
});

describe('buildKernelCmdline', () => {
  it('maps the xen-tools root to the first virtio disk and puts the serial console last', () => {
    expect(buildKernelCmdline(domainConfig())).toBe('root=/dev/vda ro elevator=noop quiet console=ttyS0');
  });

  it('uses cmdline as it is instead of root and extra, like xl', () => {
    const dc = domainConfig({ cmdline: 'root=UUID=abc ro quiet console=hvc0' });
    expect(buildKernelCmdline(dc)).toBe('root=UUID=abc ro quiet console=hvc0 console=ttyS0');
  });

  it('adds only quiet and the console when the cfg has no command line at all', () => {
    expect(buildKernelCmdline(domainConfig({ root: undefined, extra: undefined }))).toBe(
      'quiet console=ttyS0',
    );
  });

  it.each(['loglevel=7', 'debug', 'ignore_loglevel', 'quiet'])(
    'leaves the kernel as verbose as the cfg asks when extra has %s',
    (word) => {
      expect(buildKernelCmdline(domainConfig({ extra: word }))).toBe(
        `root=/dev/vda ro ${word} console=ttyS0`,
      );
    },
  );

  it('skips the crypto self-tests and the speculation mitigations under TCG only, before the console', () => {
    expect(buildKernelCmdline(domainConfig(), { tcg: true })).toBe(
      'root=/dev/vda ro elevator=noop quiet cryptomgr.notests mitigations=off console=ttyS0',
    );
    expect(buildKernelCmdline(domainConfig(), { tcg: false })).toBe(
      'root=/dev/vda ro elevator=noop quiet console=ttyS0',
    );
  });

  it.each(['cryptomgr.notests=0', 'cryptomgr.notests=1', 'cryptomgr.notests'])(
    'leaves the self-tests as the cfg decides when extra has %s',
    (word) => {
      expect(buildKernelCmdline(domainConfig({ extra: word }), { tcg: true })).toBe(
        `root=/dev/vda ro ${word} quiet mitigations=off console=ttyS0`,
      );
    },
  );

  it.each(['mitigations=auto', 'mitigations=auto,nosmt', 'spectre_v2=retpoline', 'nospectre_v1', 'pti=on'])(
    'leaves the mitigations as the cfg decides when extra has %s',
    (word) => {
      expect(buildKernelCmdline(domainConfig({ extra: word }), { tcg: true })).toBe(
        `root=/dev/vda ro ${word} quiet cryptomgr.notests console=ttyS0`,
      );
    },
  );
});

/** DomainConfig builders for the QEMU driver tests (the xl.cfg parser is another module). */
import {
  defaultDomainConfig,
  type DiskConfig,
  type DomainConfig,
  type VifConfig,
} from '../../../src/model/domain-config.js';

/** A disk as xen-tools writes it: `file:TARGET,VDEV,w`. */
export function disk(target: string, vdev: string, extra: Partial<DiskConfig> = {}): DiskConfig {
  return { target, format: 'raw', vdev, access: 'rw', isCdrom: false, raw: `${target},${vdev},w`, ...extra };
}

/** A vif with a MAC and optionally a bridge. */
export function vif(mac: string | undefined, bridge?: string, extra: Partial<VifConfig> = {}): VifConfig {
  return { mac, bridge, ip: undefined, vifname: undefined, model: undefined, raw: `mac=${mac}`, ...extra };
}

/** A pv domain like xen-tools 4.9.2 writes it, with overrides. */
export function domainConfig(overrides: Partial<DomainConfig> = {}): DomainConfig {
  return defaultDomainConfig(overrides.name ?? 'web1', {
    memory: 512,
    maxmem: 512,
    root: '/dev/xvda2 ro',
    extra: 'elevator=noop',
    bootloader: 'pygrub',
    disks: [
      disk('/home/xen/domains/web1/disk.img', 'xvda2'),
      disk('/home/xen/domains/web1/swap.img', 'xvda1'),
    ],
    vifs: [vif('00:16:3E:AA:BB:01')],
    onCrash: 'restart',
    ...overrides,
  });
}

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseXlCfg } from '../../src/formats/xl-cfg-parse.js';
import {
  cloneDiskSpec,
  cloneVifSpec,
  renderCloneCfg,
  type CloneCfgChanges,
} from '../../src/images/clone-cfg.js';
import { imageNameForVolume } from '../../src/images/backup-restore-targets.js';

const golden = (name: string): string =>
  fs.readFileSync(path.join(import.meta.dirname, '../golden/xl-cfg', `${name}.cfg`), 'utf8');

function changesFor(text: string, linked: boolean, network: CloneCfgChanges['network']): CloneCfgChanges {
  const dc = parseXlCfg(text);
  return {
    sourceName: dc.name,
    name: 'clone1',
    disks: dc.disks.map((d) => ({
      from: d,
      target: d.target.replace(`/${dc.name}/`, '/clone1/'),
      format: linked ? 'qcow2' : d.format,
    })),
    mac: '00:16:3E:AA:BB:CC',
    network,
    note: 'Cloned from the test (full clone).',
  };
}

describe('renderCloneCfg', () => {
  it.each([
    ['static-ip', false, { mode: 'static' as const, addresses: ['192.168.1.99'] }],
    ['dhcp-bridge', false, { mode: 'dhcp' as const, addresses: [] }],
    ['two-ips', true, { mode: 'static' as const, addresses: ['10.0.0.50', '10.0.0.51'] }],
    ['dhcp-bridge', true, { mode: 'static' as const, addresses: ['192.0.2.7'] }],
    ['static-ip', false, { mode: 'dhcp' as const, addresses: [] }],
  ])(
    'rewrites %s (linked %s) into a cfg xl parses with the new name, disks, MAC and network',
    (name, linked, network) => {
      const text = golden(name);
      const changes = changesFor(text, linked, network);
      const out = renderCloneCfg(text, parseXlCfg(text).vifs[0]?.raw, changes);
      const dc = parseXlCfg(out);
      expect(dc.name).toBe('clone1');
      expect(dc.disks.map((d) => d.target)).toEqual(changes.disks.map((d) => d.target));
      expect(dc.disks.every((d) => d.format === (linked ? 'qcow2' : 'raw'))).toBe(true);
      expect(dc.vifs[0]?.mac).toBe('00:16:3E:AA:BB:CC');
      expect((dc.vifs[0]?.ip ?? '').split(/\s+/).filter(Boolean)).toEqual(network.addresses);
      expect(String(dc.raw['dhcp'] ?? '')).toBe(network.mode === 'dhcp' ? 'dhcp' : '');
      expect(out).toContain('# Cloned from the test (full clone).');
      expect(out).toContain('Configuration file for the Xen instance clone1');
      // everything else is kept as it was
      const source = parseXlCfg(text);
      expect([dc.memory, dc.vcpus, dc.onCrash, dc.kernel, dc.bootloader]).toEqual([
        source.memory,
        source.vcpus,
        source.onCrash,
        source.kernel,
        source.bootloader,
      ]);
    },
  );

  it('keeps the bridge and other pairs of the vif', () => {
    expect(
      cloneVifSpec('mac=00:16:3E:E1:F3:41,bridge=xenbr0', '00:16:3E:00:00:01', {
        mode: 'dhcp',
        addresses: [],
      }),
    ).toBe('mac=00:16:3E:00:00:01,bridge=xenbr0');
  });
});

describe('a volume that becomes an image file', () => {
  it('says file: instead of phy: in the disk spec, and keeps phy: for another device', () => {
    const from = parseXlCfg("name = 'web1'\ndisk = [ 'phy:/dev/vg0/web1-disk,xvda2,w' ]").disks[0]!;
    expect(cloneDiskSpec({ from, target: '/srv/xen/domains/web1/disk.img', format: 'raw' })).toBe(
      'file:/srv/xen/domains/web1/disk.img,xvda2,w',
    );
    expect(cloneDiskSpec({ from, target: '/dev/vg1/web2-disk', format: 'raw' })).toBe(
      'phy:/dev/vg1/web2-disk,xvda2,w',
    );
  });

  it('says phy: instead of file: for an image file that becomes a volume (restore --lvm)', () => {
    const [raw, qcow2] = parseXlCfg(
      "name = 'web1'\ndisk = [ 'file:/srv/xen/domains/web1/disk.img,xvda2,w', 'format=qcow2, vdev=xvda1, access=rw, target=/srv/xen/domains/web1/swap.img' ]",
    ).disks;
    expect(cloneDiskSpec({ from: raw!, target: '/dev/vg0/web2-disk', format: 'raw' })).toBe(
      'phy:/dev/vg0/web2-disk,xvda2,w',
    );
    // A qcow2 image's data goes onto the volume raw.
    expect(cloneDiskSpec({ from: qcow2!, target: '/dev/vg0/web2-swap', format: 'raw' })).toMatch(
      /format=raw.*target=\/dev\/vg0\/web2-swap/,
    );
  });

  it.each([
    ['/dev/vg0/web1-disk', 'disk.img'],
    ['/dev/vg0/web1-swap', 'swap.img'],
    ['/dev/vg0/web1-home', 'home.img'],
    ['/dev/vg0/other', 'other.img'],
    ['/dev/loop3', 'loop3.img'],
  ])('restores %s of guest web1 as %s', (device, file) => {
    expect(imageNameForVolume(device, 'web1')).toBe(file);
  });
});

/** QEMU disk and NIC hotplug over a fake QMP: the commands sent, the undo of a failed attach, the waits. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDiskSpec } from '../../../src/formats/xl-cfg-disk.js';
import { parseVifSpec } from '../../../src/formats/xl-cfg-vif.js';
import {
  attachDisk,
  attachNic,
  detachDisk,
  detachNic,
  listDisks,
  type Devices,
} from '../../../src/hypervisors/qemu/device-hotplug.js';
import { deviceTable, freePort, hotplugPortArgs } from '../../../src/hypervisors/qemu/hotplug-ports.js';
import { connectQmp, type QmpClient } from '../../../src/hypervisors/qemu/qmp-client.js';
import { defaultDomainConfig } from '../../../src/model/domain-config.js';
import { startFakeQmp, type FakeQmpServer, type FakeReply } from './fake-qmp-server.js';
import { disk, vif } from './fixtures.js';

let server: FakeQmpServer;
let qmp: QmpClient;
let work: string;
let image: string;

async function connect(reply: (cmd: string, args?: Record<string, unknown>) => FakeReply): Promise<void> {
  server = await startFakeQmp(reply);
  qmp = await connectQmp(server.socketPath, { guest: 'web1' });
}

function booted(): Devices {
  const config = defaultDomainConfig('web1', {
    disks: [disk('/srv/web1.img', 'xvda2')],
    vifs: [vif('00:16:3E:00:00:01')],
  });
  return { config, table: deviceTable(config, undefined) };
}

const sent = (): string[] =>
  server.received.filter((r) => r.execute !== 'qmp_capabilities').map((r) => r.execute);

beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'xenkit-hotplug-'));
  image = path.join(work, 'data.img');
  writeFileSync(image, '');
});
afterEach(async () => {
  qmp?.close();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('QEMU hotplug', () => {
  it('gives every guest four empty root ports and names its boot devices by position', () => {
    expect(hotplugPortArgs().filter((a) => a.startsWith('pcie-root-port'))).toHaveLength(4);
    expect(booted().table).toEqual({ disks: [{ id: 'disk0' }], nics: [{ id: 'net0', devid: 0 }] });
  });

  it('attaches a disk: file node, format node, virtio-blk on the first free port', async () => {
    await connect(() => ({ return: {} }));
    const spec = parseDiskSpec(`format=qcow2, vdev=xvdb, access=ro, target=${image}`).disk;
    const after = await attachDisk(qmp, 'web1', booted(), spec);
    expect(server.received.slice(1)).toEqual([
      {
        execute: 'blockdev-add',
        arguments: {
          driver: 'file',
          filename: image,
          'node-name': 'disk1-file',
          'read-only': true,
          discard: 'unmap',
        },
      },
      {
        execute: 'blockdev-add',
        arguments: {
          driver: 'qcow2',
          file: 'disk1-file',
          'node-name': 'disk1',
          'read-only': true,
          discard: 'unmap',
        },
      },
      {
        execute: 'device_add',
        arguments: { driver: 'virtio-blk-pci', drive: 'disk1', id: 'disk1-dev', bus: 'hp0' },
      },
    ]);
    expect(listDisks(after).map((d) => [d.vdev, d.hotplugged])).toEqual([
      ['xvda2', false],
      ['xvdb', true],
    ]);
  });

  it('removes the nodes it added when device_add fails, and keeps the error', async () => {
    await connect((cmd) =>
      cmd === 'device_add' ? { error: { class: 'GenericError', desc: 'Bus hp0 is full' } } : { return: {} },
    );
    const spec = parseDiskSpec(`vdev=xvdb, target=${image}`).disk;
    await expect(attachDisk(qmp, 'web1', booted(), spec)).rejects.toThrow(/Bus hp0 is full/);
    expect(server.received.slice(-2)).toEqual([
      { execute: 'blockdev-del', arguments: { 'node-name': 'disk1' } },
      { execute: 'blockdev-del', arguments: { 'node-name': 'disk1-file' } },
    ]);
  });

  it.each([
    ['a vdev the guest has', 'vdev=xvda2, target=IMAGE', 'has a disk xvda2 already'],
    ['a missing image', 'vdev=xvdc, target=/nonexistent.img', 'does not exist'],
    ['a CD-ROM', 'vdev=hdc, devtype=cdrom, target=IMAGE', 'CD-ROM cannot be hot-plugged'],
  ])('refuses %s before sending anything', async (_label, spec, message) => {
    await connect(() => ({ return: {} }));
    const parsed = parseDiskSpec(spec.replace('IMAGE', image)).disk;
    await expect(attachDisk(qmp, 'web1', booted(), parsed)).rejects.toMatchObject({
      code: 'E_HOTPLUG',
      message: expect.stringContaining(message),
    });
    expect(sent()).toEqual([]);
  });

  it('detaches a hot-plugged disk once QEMU reports DEVICE_DELETED, then its nodes', async () => {
    await connect((cmd) => {
      if (cmd === 'device_del') setTimeout(() => server.emit('DEVICE_DELETED', { device: 'disk1-dev' }), 50);
      return { return: {} };
    });
    const spec = parseDiskSpec(`vdev=xvdb, target=${image}`).disk;
    const attached = await attachDisk(qmp, 'web1', booted(), spec);
    const after = await detachDisk(qmp, 'web1', attached, 'xvdb');
    expect(sent().slice(-3)).toEqual(['device_del', 'blockdev-del', 'blockdev-del']);
    expect(after).toEqual(booted());
  });

  it('says the guest did not release a disk in time, and keeps it in the table', async () => {
    await connect(() => ({ return: {} }));
    const attached = await attachDisk(
      qmp,
      'web1',
      booted(),
      parseDiskSpec(`vdev=xvdb, target=${image}`).disk,
    );
    await expect(detachDisk(qmp, 'web1', attached, 'xvdb', 200)).rejects.toMatchObject({
      code: 'E_HOTPLUG',
      message: 'guest "web1" did not release disk1-dev within 0 s',
    });
    expect(sent().at(-1)).toBe('device_del');
  });

  it('refuses to detach a device the guest booted with (it sits on pcie.0)', async () => {
    await connect(() => ({ return: {} }));
    await expect(detachDisk(qmp, 'web1', booted(), 'xvda2')).rejects.toThrow(/was there at boot/);
    await expect(detachNic(qmp, 'web1', booted(), 0)).rejects.toThrow(/was there at boot/);
    expect(sent()).toEqual([]);
  });

  it('attaches a NIC on a bridge: tap netdev, enslaved, then the device with the next devid', async () => {
    await connect(() => ({ return: {} }));
    const enslaved: string[] = [];
    const out = await attachNic(
      qmp,
      'web1',
      booted(),
      parseVifSpec('bridge=xenbr0,mac=00:16:3e:aa:bb:cc').vif,
      (devid) => ({ kind: 'tap', tap: `xkvif3.${devid}`, bridge: 'xenbr0' }),
      async (tap, bridge) => {
        enslaved.push(`${tap}>${bridge}`);
      },
    );
    expect(server.received.slice(1)).toEqual([
      {
        execute: 'netdev_add',
        arguments: { type: 'tap', id: 'net1', ifname: 'xkvif3.1', script: 'no', downscript: 'no' },
      },
      {
        execute: 'device_add',
        arguments: {
          driver: 'virtio-net-pci',
          netdev: 'net1',
          id: 'net1-dev',
          mac: '00:16:3e:aa:bb:cc',
          bus: 'hp0',
        },
      },
    ]);
    expect(enslaved).toEqual(['xkvif3.1>xenbr0']);
    expect(out.nic).toMatchObject({ devid: 1, mac: '00:16:3e:aa:bb:cc', bridge: 'xenbr0', hotplugged: true });
  });

  it('makes a MAC under the Xen prefix when none is given, refuses one the guest has', async () => {
    await connect(() => ({ return: {} }));
    const user = () => ({ kind: 'user' }) as const;
    const out = await attachNic(qmp, 'web1', booted(), parseVifSpec('').vif, user, async () => undefined);
    expect(out.nic.mac).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
    await expect(
      attachNic(
        qmp,
        'web1',
        booted(),
        parseVifSpec('mac=00:16:3e:00:00:01').vif,
        user,
        async () => undefined,
      ),
    ).rejects.toThrow(/has a NIC with MAC 00:16:3E:00:00:01 already/);
  });

  it('detaches a NIC by MAC and by devid', async () => {
    await connect((cmd, args) => {
      if (cmd === 'device_del') setTimeout(() => server.emit('DEVICE_DELETED', { device: args?.id }), 20);
      return { return: {} };
    });
    const user = () => ({ kind: 'user' }) as const;
    const one = await attachNic(
      qmp,
      'web1',
      booted(),
      parseVifSpec('mac=00:16:3e:aa:bb:cc').vif,
      user,
      async () => undefined,
    );
    const two = await attachNic(
      qmp,
      'web1',
      one.devices,
      parseVifSpec('mac=00:16:3e:aa:bb:dd').vif,
      user,
      async () => undefined,
    );
    expect(two.devices.table.nics.map((n) => [n.id, n.devid, n.port])).toEqual([
      ['net0', 0, undefined],
      ['net1', 1, 'hp0'],
      ['net2', 2, 'hp1'],
    ]);
    const less = await detachNic(qmp, 'web1', two.devices, '00:16:3E:AA:BB:CC');
    const none = await detachNic(qmp, 'web1', less, 2);
    expect(none).toEqual(booted());
  });

  it('has no free port once four devices were attached', () => {
    const config = booted().config;
    const nics = [0, 1, 2, 3].map((i) => ({ id: `net${i + 1}`, devid: i + 1, port: `hp${i}` }));
    expect(() => freePort('web1', { disks: [], nics })).toThrow(/no free hotplug slot/);
    expect(freePort('web1', deviceTable(config, undefined))).toBe('hp0');
  });
});

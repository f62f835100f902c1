/** The xl driver's device, vCPU, memory, rename and dmesg verbs: each is xl's own verb, against the fake xl. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createXlDriver } from '../../../src/hypervisors/xl/driver.js';
import { parseDiskSpec } from '../../../src/formats/xl-cfg-disk.js';
import { parseVifSpec } from '../../../src/formats/xl-cfg-vif.js';
import { makePaths } from '../../../src/paths.js';
import { parseXlVcpuList } from '../../../src/tools/xl-parse-devices.js';
import { makeFakeXl, type FakeXl } from './fake-xl.js';

let fake: FakeXl;
const driver = () => createXlDriver({ paths: makePaths('/'), xl: fake.xl });

beforeEach(() => {
  fake = makeFakeXl();
});
afterEach(() => fake.cleanup());

// As xl 4.17 prints it (xl_vcpu.c), one domain pinned.
const VCPU_LIST = `Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)
test2                                5     0    1   -b-       2.3  all / all
test2                                5     1    0   r--       1.1  0 / all
test2                                5     2    -   --p       0.0  all / all
`;

describe('the xl driver verbs', () => {
  it.each([
    [
      'block-attach',
      () => driver().blockAttach!('test2', parseDiskSpec('file:/srv/data.img,xvdb,w').disk),
      'block-attach test2 format=raw, vdev=xvdb, access=rw, target=/srv/data.img',
    ],
    ['block-detach', () => driver().blockDetach!('test2', 'xvdb'), 'block-detach test2 xvdb'],
    [
      'network-detach',
      () => driver().networkDetach!('test2', '00:16:3E:00:00:01'),
      'network-detach test2 00:16:3E:00:00:01',
    ],
    ['vcpu-pin', () => driver().vcpuPin!('test2', 'all', '0-1'), 'vcpu-pin test2 all 0-1'],
    ['mem-max', () => driver().setMaxMemory!('test2', 512 * 1024 * 1024), 'mem-max test2 524288k'],
    ['rename', () => driver().rename!('test2', 'test3'), 'rename test2 test3'],
    ['dmesg -c', () => driver().dmesg!({ clear: true }), 'dmesg -c'],
  ])('runs xl %s', async (_label, act, expected) => {
    await act();
    expect(fake.calls()).toEqual([expected]);
  });

  it('lists disks and NICs from the libxl config of xl list -l', async () => {
    expect(await driver().blockList!('test2')).toEqual([
      expect.objectContaining({ vdev: 'xvda2', target: '/home/xen/domains/test2/disk.img', access: 'rw' }),
      expect.objectContaining({ vdev: 'xvda1', target: '/home/xen/domains/test2/swap.img' }),
    ]);
    expect(await driver().networkList!('test2')).toEqual([
      expect.objectContaining({ devid: 0, mac: '00:16:3e:00:00:01', bridge: 'xenbr0' }),
    ]);
    await expect(driver().blockList!('ghost')).rejects.toMatchObject({ code: 'E_NO_DOMAIN' });
  });

  it('passes a vif spec to network-attach as separate pairs, and says when xl then lists no NIC', async () => {
    const attach = driver().networkAttach!('web', parseVifSpec('bridge=xenbr0,mac=00:16:3e:aa:bb:cc').vif);
    // The recorded web has no NICs in its config, before or after.
    await expect(attach).rejects.toMatchObject({
      code: 'E_XL',
      message: expect.stringContaining('no new NIC'),
    });
    expect(fake.calls()).toEqual([
      'list -l',
      'network-attach web mac=00:16:3e:aa:bb:cc bridge=xenbr0',
      'list -l',
    ]);
  });

  it('reads xl vcpu-list: host CPU, state letters, time and hard affinity', async () => {
    fake.reply('vcpu-list_test2', { out: VCPU_LIST });
    expect(await driver().vcpuList!('test2')).toEqual([
      { vcpu: 0, cpu: 1, running: false, blocked: true, online: true, timeSec: 2.3, affinity: 'all' },
      { vcpu: 1, cpu: 0, running: true, blocked: false, online: true, timeSec: 1.1, affinity: '0' },
      { vcpu: 2, cpu: undefined, running: false, blocked: false, online: false, timeSec: 0, affinity: 'all' },
    ]);
    expect(parseXlVcpuList(VCPU_LIST, 'other')).toEqual([]);
  });

  it("refuses a domain name for dmesg: xl dmesg is Xen's own log", async () => {
    await expect(driver().dmesg!({ name: 'test2' })).rejects.toMatchObject({ code: 'E_ARG', kind: 'usage' });
    expect(fake.calls()).toEqual([]);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  planVcpuChange,
  setGuestVcpus,
  type HotpluggableCpu,
} from '../../../src/hypervisors/qemu/vcpu-hotplug.js';
import { connectQmp } from '../../../src/hypervisors/qemu/qmp-client.js';
import { startFakeQmp, type FakeQmpServer } from './fake-qmp-server.js';

/** query-hotpluggable-cpus of `-smp 1,maxcpus=3` with `plugged` CPUs present (QEMU 7.2 lists cores). */
function slots(plugged: number): HotpluggableCpu[] {
  return [2, 1, 0].map((core) => ({
    type: 'max-x86_64-cpu',
    props: { 'socket-id': 0, 'core-id': core, 'thread-id': 0 },
    ...(core < plugged ? { 'qom-path': `/machine/peripheral/cpu${core}` } : {}),
  }));
}

let server: FakeQmpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('planVcpuChange', () => {
  it('adds CPUs in the lowest free slots with the props QEMU offered', () => {
    expect(planVcpuChange('web1', slots(1), 3)).toEqual([
      {
        execute: 'device_add',
        arguments: {
          driver: 'max-x86_64-cpu',
          id: 'vcpu-s000-d000-c001-t000',
          'socket-id': 0,
          'core-id': 1,
          'thread-id': 0,
        },
      },
      {
        execute: 'device_add',
        arguments: {
          driver: 'max-x86_64-cpu',
          id: 'vcpu-s000-d000-c002-t000',
          'socket-id': 0,
          'core-id': 2,
          'thread-id': 0,
        },
      },
    ]);
  });

  it('removes the newest CPUs first and never the boot CPU', () => {
    expect(planVcpuChange('web1', slots(3), 1)).toEqual([
      { execute: 'device_del', arguments: { id: '/machine/peripheral/cpu2' } },
      { execute: 'device_del', arguments: { id: '/machine/peripheral/cpu1' } },
    ]);
  });

  it('does nothing when the count is already right', () => {
    expect(planVcpuChange('web1', slots(2), 2)).toEqual([]);
  });

  it.each([0, 4, 1.5])('rejects %s vCPUs, naming the guest and the range', (count) => {
    expect(() => planVcpuChange('web1', slots(1), count)).toThrow(
      `guest "web1": ${count} vCPUs is outside 1..3`,
    );
  });
});

describe('setGuestVcpus', () => {
  it.each([
    ['tcg', true],
    ['kvm', false],
  ] as const)('under %s switches the reboot action after a removal: %s', async (accel, switched) => {
    server = await startFakeQmp((cmd) =>
      cmd === 'query-hotpluggable-cpus' ? { return: slots(2) } : { return: {} },
    );
    const qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    expect(await setGuestVcpus(qmp, 'web1', 1, accel)).toBe(true);
    qmp.close();
    const sent = server.received.map((r) => r.execute);
    expect(sent.includes('set-action')).toBe(switched);
    expect(sent).toContain('device_del');
  });

  it('under single-threaded TCG adds vCPUs but refuses to remove one, sending nothing', async () => {
    server = await startFakeQmp((cmd) =>
      cmd === 'query-hotpluggable-cpus' ? { return: slots(1) } : { return: {} },
    );
    let qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    expect(await setGuestVcpus(qmp, 'web1', 2, 'tcg', true)).toBe(false);
    qmp.close();
    expect(server.received.map((r) => r.execute)).toContain('device_add');
    await server.close();
    server = await startFakeQmp((cmd) =>
      cmd === 'query-hotpluggable-cpus' ? { return: slots(2) } : { return: {} },
    );
    qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    await expect(setGuestVcpus(qmp, 'web1', 1, 'tcg', true)).rejects.toThrow(
      'guest "web1": vCPUs cannot be removed while it runs under single-threaded TCG (QEMU stops the guest)',
    );
    qmp.close();
    expect(server.received.map((r) => r.execute)).toEqual(['qmp_capabilities', 'query-hotpluggable-cpus']);
  });
});

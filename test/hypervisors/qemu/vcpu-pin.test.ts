import { afterEach, describe, expect, it } from 'vitest';
import { XenkitError } from '../../../src/errors.js';
import { tcgThreading } from '../../../src/hypervisors/qemu/argv.js';
import { connectQmp } from '../../../src/hypervisors/qemu/qmp-client.js';
import { pinVcpus } from '../../../src/hypervisors/qemu/vcpu-pin.js';
import { startFakeQmp, type FakeQmpServer } from './fake-qmp-server.js';

let server: FakeQmpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('tcgThreading', () => {
  it('gives a guest that can gain vCPUs one TCG thread, any other a thread per vCPU', () => {
    expect(tcgThreading({ vcpus: 1, maxvcpus: 2 })).toBe('single');
    expect(tcgThreading({ vcpus: 2, maxvcpus: 4 })).toBe('single');
    expect(tcgThreading({ vcpus: 1, maxvcpus: 1 })).toBe('multi');
    expect(tcgThreading({ vcpus: 2, maxvcpus: 2 })).toBe('multi');
  });
});

describe('pinVcpus', () => {
  it('refuses to pin one vCPU whose host thread the others share, and pins them all together', async () => {
    // Single-threaded TCG: every vCPU reports the same thread. Thread 0 is never a real one, so
    // the refusal is what is checked here, not taskset.
    server = await startFakeQmp(() => ({
      return: [
        { 'cpu-index': 1, 'thread-id': 0 },
        { 'cpu-index': 0, 'thread-id': 0 },
      ],
    }));
    const qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    try {
      const refused = await pinVcpus(qmp, 'web1', 1, '0', 2).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(XenkitError);
      expect((refused as XenkitError).kind).toBe('usage');
      expect((refused as XenkitError).message).toBe(
        'domain "web1": vCPU 1 shares its host thread with vCPU 0 (single-threaded TCG, as for every guest whose maxvcpus is above its vcpus), so it cannot be pinned alone',
      );
      expect((refused as XenkitError).hint).toBe('pin them together with: xm vcpu-pin web1 all 0');
    } finally {
      qmp.close();
    }
  });
});

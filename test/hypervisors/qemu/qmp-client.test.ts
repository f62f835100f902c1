import { afterEach, describe, expect, it } from 'vitest';
import { connectQmp, withQmp } from '../../../src/hypervisors/qemu/qmp-client.js';
import { XenkitError } from '../../../src/errors.js';
import { startFakeQmp, type FakeQmpServer } from './fake-qmp-server.js';

let server: FakeQmpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function rejection(promise: Promise<unknown>): Promise<XenkitError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof XenkitError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('connectQmp', () => {
  it('reads the greeting, negotiates capabilities and returns command results', async () => {
    server = await startFakeQmp((cmd) =>
      cmd === 'query-status' ? { return: { status: 'running' } } : { return: {} },
    );
    const qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    expect(qmp.version).toBe('7.2.22');
    expect(await qmp.execute('query-status')).toEqual({ status: 'running' });
    await qmp.execute('balloon', { value: 268435456 });
    qmp.close();
    expect(server.received).toEqual([
      { execute: 'qmp_capabilities' },
      { execute: 'query-status' },
      { execute: 'balloon', arguments: { value: 268435456 } },
    ]);
  });

  it('turns a QMP error into an error naming the guest and the command', async () => {
    server = await startFakeQmp(() => ({
      error: { class: 'GenericError', desc: 'No balloon device has been activated' },
    }));
    const error = await rejection(
      withQmp(server.socketPath, { guest: 'web1' }, (q) => q.execute('balloon', { value: 1 })),
    );
    expect(error.code).toBe('E_QMP');
    expect(error.message).toBe(
      'guest "web1": QMP command "balloon" failed: No balloon device has been activated',
    );
    expect(error.details).toBe('error class: GenericError');
  });

  it('delivers events to listeners and to waitForEvent', async () => {
    server = await startFakeQmp(() => ({ return: {} }));
    const qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    const seen: string[] = [];
    qmp.onEvent((e) => seen.push(e.event));
    const waiting = qmp.waitForEvent('RESET', 2000, (e) => e.data.guest === true);
    server.emit('RESET', { guest: false, reason: 'host-qmp-system-reset' });
    server.emit('RESET', { guest: true, reason: 'guest-reset' });
    const event = await waiting;
    expect(event).toEqual({
      event: 'RESET',
      data: { guest: true, reason: 'guest-reset' },
      timestamp: 1700000000.5,
    });
    expect(seen).toEqual(['RESET', 'RESET']);
    qmp.close();
  });

  it('times out a command that gets no answer, naming it', async () => {
    server = await startFakeQmp(() => 'silence');
    const qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    const error = await rejection(qmp.execute('query-balloon', undefined, { timeoutMs: 100 }));
    expect(error.code).toBe('E_QMP_TIMEOUT');
    expect(error.message).toContain('"query-balloon"');
    qmp.close();
  });

  it('fails pending commands when the connection drops, except one expected to close it', async () => {
    server = await startFakeQmp(() => 'hangup');
    const qmp = await connectQmp(server.socketPath, { guest: 'web1' });
    const error = await rejection(qmp.execute('system_powerdown'));
    expect(error.code).toBe('E_QMP_CLOSED');
    expect(error.message).toContain('"system_powerdown"');
    const again = await rejection(qmp.execute('query-status'));
    expect(again.code).toBe('E_QMP_CLOSED');

    const other = await connectQmp(server.socketPath, { guest: 'web1' });
    await expect(other.execute('quit', undefined, { expectClose: true })).resolves.toBeUndefined();
  });

  it('reports a missing socket with a hint to check the guest', async () => {
    const error = await rejection(connectQmp('/nonexistent/qmp.sock', { guest: 'web1' }));
    expect(error.code).toBe('E_QMP_CONNECT');
    expect(error.message).toMatch(/^guest "web1": cannot talk to QMP at \/nonexistent\/qmp.sock: ENOENT/);
    expect(error.hint).toContain('xm list');
  });

  it('gives up on a server that never greets', async () => {
    server = await startFakeQmp(() => ({ return: {} }), { greet: false });
    const error = await rejection(connectQmp(server.socketPath, { guest: 'web1', timeoutMs: 150 }));
    expect(error.code).toBe('E_QMP_CONNECT');
    expect(error.message).toContain('no greeting within 150 ms');
  });
});

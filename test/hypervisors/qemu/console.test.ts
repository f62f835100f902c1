import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { attachConsole, readLogTail } from '../../../src/hypervisors/qemu/console.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in for QEMU's serial socket: greets with a prompt, records what the client types. */
async function fakeSerial(
  dir: string,
): Promise<{ socketPath: string; typed: () => string; server: net.Server }> {
  const socketPath = path.join(dir, 'console.sock');
  let typed = '';
  const server = net.createServer((s) => {
    s.write('login: ');
    s.on('data', (d) => (typed += d.toString()));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return { socketPath, typed: () => typed, server };
}

describe('attachConsole', () => {
  it('replays the log tail, relays both ways and detaches on Ctrl-]', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-console-'));
    dirs.push(dir);
    const log = path.join(dir, 'console.log');
    writeFileSync(log, 'old line\nDebian GNU/Linux 12 web1 ttyS0\n');
    const serial = await fakeSerial(dir);
    const input = new PassThrough();
    let shown = '';
    const output = new Writable({
      write(chunk: Buffer, _e, done) {
        shown += chunk.toString();
        done();
      },
    });
    const session = attachConsole(
      { input, output, isTTY: false },
      { guest: 'web1', socketPath: serial.socketPath, logPath: log },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    input.write('root\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    input.write(Buffer.from([0x65, 0x1d, 0x66]));
    await session;
    // What was typed before Ctrl-] is flushed to the guest after the detach.
    await new Promise((resolve) => setTimeout(resolve, 100));
    serial.server.close();
    expect(shown).toBe('old line\nDebian GNU/Linux 12 web1 ttyS0\nlogin: ');
    expect(serial.typed()).toBe('root\ne');
  });

  it('names the guest when its console socket is missing', async () => {
    const input = new PassThrough();
    await expect(
      attachConsole(
        { input, output: new PassThrough(), isTTY: false },
        { guest: 'web1', socketPath: '/nonexistent.sock', logPath: '/nonexistent.log' },
      ),
    ).rejects.toThrow('guest "web1": cannot open its console /nonexistent.sock');
  });
});

describe('readLogTail', () => {
  it('starts the tail at a line boundary', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xenkit-console-'));
    dirs.push(dir);
    const log = path.join(dir, 'console.log');
    writeFileSync(log, 'aaaa\nbbbb\ncccc\n');
    expect((await readLogTail(log, 8)).toString()).toBe('cccc\n');
    expect((await readLogTail(log, 0)).length).toBe(0);
  });
});

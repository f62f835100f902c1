/** A fake QMP server on a temporary UNIX socket: greets, answers by a handler, can push events. */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type FakeReply =
  { return: unknown } | { error: { class: string; desc: string } } | 'silence' | 'hangup';

export interface FakeQmpServer {
  socketPath: string;
  /** Every command received, in order, with its arguments. */
  received: { execute: string; arguments?: Record<string, unknown> }[];
  /** Sends an event to every connected client. */
  emit(event: string, data?: Record<string, unknown>): void;
  close(): Promise<void>;
}

/** Starts a server answering each command with `reply(command, args)`. */
export async function startFakeQmp(
  reply: (command: string, args: Record<string, unknown> | undefined) => FakeReply,
  options: { greet?: boolean } = {},
): Promise<FakeQmpServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fake-qmp-'));
  const socketPath = path.join(dir, 'qmp.sock');
  const clients = new Set<net.Socket>();
  const received: FakeQmpServer['received'] = [];
  const server = net.createServer((socket) => {
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => undefined);
    if (options.greet !== false) {
      socket.write(
        JSON.stringify({
          QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 } }, capabilities: ['oob'] },
        }) + '\r\n',
      );
    }
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl)) as {
          execute: string;
          arguments?: Record<string, unknown>;
          id?: unknown;
        };
        buffer = buffer.slice(nl + 1);
        received.push({ execute: msg.execute, ...(msg.arguments ? { arguments: msg.arguments } : {}) });
        const answer =
          msg.execute === 'qmp_capabilities' ? { return: {} } : reply(msg.execute, msg.arguments);
        if (answer === 'silence') continue;
        if (answer === 'hangup') {
          socket.destroy();
          return;
        }
        socket.write(JSON.stringify({ ...answer, id: msg.id }) + '\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    received,
    emit(event, data) {
      const line =
        JSON.stringify({ timestamp: { seconds: 1700000000, microseconds: 500000 }, event, data }) + '\r\n';
      for (const c of clients) c.write(line);
    },
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

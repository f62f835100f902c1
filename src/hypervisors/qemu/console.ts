/**
 * `xm console` for QEMU guests: replays the tail of console.log (so attaching after boot shows
 * the login prompt), then joins the serial port's UNIX socket until Ctrl-] (like xl), the end of
 * input, or the guest going away. QEMU's socket serves one client at a time: a second console
 * waits until the first detaches.
 */
import net from 'node:net';
import { open } from 'node:fs/promises';
import { XenkitError } from '../../errors.js';
import type { ConsoleIO } from '../driver.js';

/** Ctrl-]: detaches, as in xl console and telnet. */
export const DETACH_BYTE = 0x1d;

export interface AttachOptions {
  guest: string;
  socketPath: string;
  logPath: string;
  /** Bytes of console.log shown before attaching (default 4 KiB; 0 for none). */
  replayBytes?: number;
}

/** The last `bytes` of the log, starting at a line boundary when there is one. */
export async function readLogTail(logPath: string, bytes: number): Promise<Buffer> {
  if (bytes <= 0) return Buffer.alloc(0);
  let handle;
  try {
    handle = await open(logPath, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const newline = start > 0 ? buffer.indexOf(0x0a) : -1;
    return newline >= 0 ? buffer.subarray(newline + 1) : buffer;
  } finally {
    await handle.close();
  }
}

/** Attaches `io` to the guest's serial console; resolves when detached or the guest ends. */
export async function attachConsole(io: ConsoleIO, options: AttachOptions): Promise<void> {
  const tail = await readLogTail(options.logPath, options.replayBytes ?? 4096);
  if (tail.length > 0) io.output.write(tail);
  const socket = net.createConnection(options.socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (cause) =>
      reject(
        new XenkitError(
          'E_CONSOLE',
          `guest "${options.guest}": cannot open its console ${options.socketPath}`,
          {
            hint: 'is the guest running? see `xm list`',
            cause,
          },
        ),
      ),
    );
  });
  const input = io.input as NodeJS.ReadStream;
  const raw = io.isTTY && typeof input.setRawMode === 'function';
  if (raw) input.setRawMode(true);
  try {
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        input.off('data', onInput);
        input.off('end', finish);
        socket.off('close', finish);
        socket.off('data', onOutput);
        // end() rather than destroy(): what was typed just before Ctrl-] still reaches the guest.
        socket.end();
        socket.unref();
        resolve();
      };
      const onInput = (chunk: Buffer | string): void => {
        const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        const detach = data.indexOf(DETACH_BYTE);
        if (detach >= 0) {
          if (detach > 0) socket.write(data.subarray(0, detach));
          finish();
          return;
        }
        socket.write(data);
      };
      const onOutput = (data: Buffer): void => {
        io.output.write(data);
      };
      socket.on('data', onOutput);
      socket.on('error', () => undefined);
      socket.once('close', finish);
      input.on('data', onInput);
      input.once('end', finish);
      input.resume();
    });
  } finally {
    if (raw) input.setRawMode(false);
    input.pause();
  }
}

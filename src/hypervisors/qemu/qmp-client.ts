/**
 * A QMP (QEMU Machine Protocol) client over a UNIX socket: greeting, capability negotiation,
 * commands with ids and timeouts, and the event stream. Errors name the guest and the command.
 */
import net from 'node:net';
import { XenkitError } from '../../errors.js';

/** One asynchronous QMP event (`{"event": "RESET", "data": {...}, "timestamp": {...}}`). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** Seconds since the epoch, with microseconds. */
  timestamp: number;
}

export interface QmpOptions {
  /** Names the guest in error messages. */
  guest: string;
  /** For the connection, the greeting and each command (default 10 s). */
  timeoutMs?: number;
}

export interface ExecuteOptions {
  timeoutMs?: number;
  /** The command ends QEMU (`quit`): a closed connection counts as success. */
  expectClose?: boolean;
}

/** A connected, negotiated QMP session. */
export interface QmpClient {
  /** QEMU's version from the greeting (`7.2.22`). */
  readonly version: string;
  /** Runs `command` and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options?: ExecuteOptions): Promise<T>;
  /** Calls `listener` for every event; returns the unsubscribe function. */
  onEvent(listener: (event: QmpEvent) => void): () => void;
  /** Resolves with the next event named `name` (and matching `where`, when given). */
  waitForEvent(name: string, timeoutMs: number, where?: (event: QmpEvent) => boolean): Promise<QmpEvent>;
  close(): void;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  expectClose: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Connects to the QMP socket at `socketPath`, reads the greeting and negotiates capabilities. */
export async function connectQmp(socketPath: string, options: QmpOptions): Promise<QmpClient> {
  const who = `guest "${options.guest}"`;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const socket = net.createConnection(socketPath);
  const pending = new Map<number, Pending>();
  const listeners = new Set<(event: QmpEvent) => void>();
  let nextId = 1;
  let buffer = '';
  let closed = false;
  let greeting: ((message: Record<string, unknown>) => void) | undefined;

  const failAll = (reason: string): void => {
    for (const [id, p] of pending) {
      pending.delete(id);
      clearTimeout(p.timer);
      if (p.expectClose) p.resolve(undefined);
      else
        p.reject(
          new XenkitError('E_QMP_CLOSED', `${who}: QMP connection closed during "${p.command}": ${reason}`),
        );
    }
  };

  const handle = (message: Record<string, unknown>): void => {
    if (greeting && 'QMP' in message) {
      greeting(message);
      return;
    }
    if (typeof message.event === 'string') {
      const event = toEvent(message);
      for (const listener of listeners) listener(event);
      return;
    }
    const id = typeof message.id === 'number' ? message.id : undefined;
    const p = id === undefined ? undefined : pending.get(id);
    if (!p || id === undefined) return;
    pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in message) {
      const err = (message.error ?? {}) as { class?: string; desc?: string };
      p.reject(
        new XenkitError(
          'E_QMP',
          `${who}: QMP command "${p.command}" failed: ${err.desc ?? 'unknown error'}`,
          {
            details: `error class: ${err.class ?? '?'}`,
          },
        ),
      );
    } else {
      p.resolve(message.return);
    }
  };

  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line === '') continue;
      try {
        handle(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // QEMU only writes JSON here; a torn line is ignored rather than killing the session.
      }
    }
  });
  socket.on('close', () => {
    closed = true;
    failAll('QEMU closed the socket');
  });
  socket.on('error', () => undefined);

  const connectError = (cause: unknown): XenkitError =>
    new XenkitError('E_QMP_CONNECT', `${who}: cannot talk to QMP at ${socketPath}: ${errorText(cause)}`, {
      hint: 'is the guest running? see `xm list`; a dead guest is removed from the list automatically',
      cause,
    });

  const greeted = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(connectError(new Error(`no greeting within ${timeoutMs} ms`))),
      timeoutMs,
    );
    greeting = (message) => {
      clearTimeout(timer);
      resolve(message);
    };
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(connectError(error));
    });
    socket.once('close', () => {
      clearTimeout(timer);
      reject(connectError(new Error('connection closed before the greeting')));
    });
  });
  let hello: Record<string, unknown>;
  try {
    hello = await greeted;
  } catch (error) {
    socket.destroy();
    throw error;
  }
  greeting = undefined;

  const client: QmpClient = {
    version: readVersion(hello),
    execute<T>(command: string, args?: Record<string, unknown>, opts: ExecuteOptions = {}): Promise<T> {
      if (closed) {
        return Promise.reject(
          new XenkitError('E_QMP_CLOSED', `${who}: QMP connection is closed, cannot run "${command}"`),
        );
      }
      const id = nextId++;
      const limit = opts.timeoutMs ?? timeoutMs;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(
            new XenkitError(
              'E_QMP_TIMEOUT',
              `${who}: QMP command "${command}" got no answer within ${limit} ms`,
              {
                hint: 'QEMU may be hung; `xm destroy` ends it',
              },
            ),
          );
        }, limit);
        pending.set(id, {
          command,
          resolve: resolve as (value: unknown) => void,
          reject,
          timer,
          expectClose: opts.expectClose ?? false,
        });
        socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    waitForEvent(name, limitMs, where) {
      return new Promise<QmpEvent>((resolve, reject) => {
        const stop = client.onEvent((event) => {
          if (event.event !== name || (where && !where(event))) return;
          clearTimeout(timer);
          stop();
          resolve(event);
        });
        const timer = setTimeout(() => {
          stop();
          reject(new XenkitError('E_QMP_TIMEOUT', `${who}: no QMP event ${name} within ${limitMs} ms`));
        }, limitMs);
      });
    },
    close() {
      closed = true;
      socket.destroy();
    },
  };
  await client.execute('qmp_capabilities');
  return client;
}

/** Connects, runs `fn` with the client and always closes the connection. */
export async function withQmp<T>(
  socketPath: string,
  options: QmpOptions,
  fn: (qmp: QmpClient) => Promise<T>,
): Promise<T> {
  const qmp = await connectQmp(socketPath, options);
  try {
    return await fn(qmp);
  } finally {
    qmp.close();
  }
}

/** Turns one parsed event line into a QmpEvent. */
export function toEvent(message: Record<string, unknown>): QmpEvent {
  const ts = (message.timestamp ?? {}) as { seconds?: number; microseconds?: number };
  return {
    event: String(message.event),
    data: (message.data ?? {}) as Record<string, unknown>,
    timestamp: (ts.seconds ?? 0) + (ts.microseconds ?? 0) / 1e6,
  };
}

function readVersion(hello: Record<string, unknown>): string {
  const qemu = (
    hello.QMP as { version?: { qemu?: { major?: number; minor?: number; micro?: number } } } | undefined
  )?.version?.qemu;
  return qemu ? `${qemu.major ?? 0}.${qemu.minor ?? 0}.${qemu.micro ?? 0}` : 'unknown';
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'ENOENT: no such socket',
  ECONNREFUSED: 'ECONNREFUSED: nobody listens (QEMU has exited?)',
  EACCES: 'EACCES: permission denied',
};

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined) return ERRNO_TEXT[code] ?? code;
  return error instanceof Error ? error.message : String(error);
}

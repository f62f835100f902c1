/**
 * Programs started without waiting for their output: detached in the background, tied to this
 * process as a server, or an interactive session piped through (a console).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { XenkitError } from '../errors.js';
import { quoteArg } from '../log/events.js';
import { baseEnv, type ExecOptions } from './exec-options.js';

/**
 * Starts `argv` detached from this process (own session, no stdio, the base environment) and
 * does not wait for it: background work that must outlive the command, such as refilling the
 * host key pool. Returns the child's pid, or undefined when it could not be started.
 */
export function spawnDetached(
  argv: readonly string[],
  options: Pick<ExecOptions, 'sink'> = {},
): number | undefined {
  const [file, ...args] = argv;
  if (file === undefined) return undefined;
  const child = spawn(file, args, { detached: true, stdio: 'ignore', env: baseEnv() });
  child.on('error', () => undefined);
  child.unref();
  if (child.pid !== undefined) {
    options.sink?.({
      type: 'info',
      message: `started in the background (pid ${child.pid}): ${argv.map(quoteArg).join(' ')}`,
    });
  }
  return child.pid;
}

/** A child started by spawnTied. */
export interface TiedChild {
  pid: number;
  /** Whether it has exited (or could not be started). */
  hasExited(): boolean;
  /** How it ended, once it has: `exited with status N` or `was killed by SIG`. */
  ending(): string | undefined;
}

/**
 * Starts `argv` as a server that must not outlive this process: the kernel sends it SIGTERM when
 * this process dies, however it dies, SIGKILL included (`setpriv --pdeathsig`, util-linux). Not
 * waited for; its output goes to `logFile` (no pipe keeps this process alive). The caller decides
 * when it is ready and stops it.
 */
export function spawnTied(
  argv: readonly string[],
  options: Pick<ExecOptions, 'sink'> & { logFile: string },
): TiedChild {
  const [file] = argv;
  if (file === undefined) throw new XenkitError('E_EXEC', 'no command given');
  const log = openSync(options.logFile, 'w', 0o600);
  let ending: string | undefined;
  let child: ChildProcess;
  try {
    child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', ...argv], {
      stdio: ['ignore', log, log],
      env: baseEnv(),
    });
  } finally {
    closeSync(log);
  }
  child.on('error', (error) => (ending ??= `could not be started: ${error.message}`));
  child.on('exit', (code, signal) => {
    ending ??= signal ? `was killed by ${signal}` : `exited with status ${code ?? -1}`;
  });
  child.unref();
  if (child.pid === undefined) ending ??= 'could not be started';
  options.sink?.({
    type: 'info',
    message: `started (pid ${child.pid ?? '-'}, stopped when xenkit ends): ${argv.map(quoteArg).join(' ')}`,
  });
  return { pid: child.pid ?? -1, hasExited: () => ending !== undefined, ending: () => ending };
}

/**
 * Runs `argv` as an interactive session over streams: `input` feeds its stdin, its stdout and
 * stderr go to `output` as they arrive (a console seen through pipes). Resolves with the exit
 * status when it ends; `input` is left open for the caller.
 */
export async function runPiped(
  argv: readonly string[],
  options: Pick<ExecOptions, 'sink' | 'env'> & {
    input: NodeJS.ReadableStream;
    output: NodeJS.WritableStream;
  },
): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new XenkitError('E_EXEC', 'no command given');
  const started = Date.now();
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...baseEnv(), ...options.env } });
  const forward = (chunk: Buffer): void => {
    child.stdin?.write(chunk);
  };
  options.input.on('data', forward);
  child.stdin?.on('error', () => undefined);
  child.stdout?.on('data', (chunk: Buffer) => options.output.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => options.output.write(chunk));
  try {
    const code = await new Promise<number>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (status, signal) => resolve(status ?? (signal ? 128 : 1)));
    });
    options.sink?.({
      type: 'exec',
      argv: [...argv],
      exitCode: code,
      durationMs: Date.now() - started,
      stdout: '',
      stderr: '',
      streamed: true,
    });
    return code;
  } finally {
    options.input.removeListener('data', forward);
  }
}

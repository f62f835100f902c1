/**
 * The one way xenkit runs a program: argv arrays (never a shell), a timeout, cancellation through
 * an AbortSignal, stdin for secrets (never argv or the environment), and a log event per run.
 * Built on node:child_process directly: it loads in a millisecond, where a wrapper library cost
 * every command a tenth of a second before it did anything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { XenkitError } from '../errors.js';
import { runMarkerEnv, trackChild } from '../plan/run-journal.js';
import { quoteArg, silentSink, type EventSink } from '../log/events.js';
import { LineTail } from './line-tail.js';

export interface ExecOptions {
  cwd?: string;
  /** Extra environment variables, added to a minimal base environment (PATH, LANG=C). */
  env?: Record<string, string | undefined>;
  /** Data written to the child's stdin (the only channel for secrets). */
  input?: string | Buffer;
  /** Kill the child after this many ms (default: none). */
  timeoutMs?: number;
  /** Cancels the child (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /** Where the exec event goes. */
  sink?: EventSink;
  /** Return a failed result instead of throwing. */
  allowFailure?: boolean;
  /** Let the child use the terminal (consoles, interactive tools). Output is then not captured. */
  inheritStdio?: boolean;
  /** Return stdout as a Buffer instead of text. */
  binary?: boolean;
  /** Called with each output line as it arrives (progress parsing); output is still captured. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Stream the output instead of buffering it: each line goes to onLine and to the sink (an
   * `output` event) as it arrives, and the result's stdout and stderr hold only their last
   * `captureTail` characters (what an error message quotes). For installers that print a lot.
   */
  captureTail?: number;
}

export interface ExecResult {
  argv: string[];
  exitCode: number;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Output beyond this is an error (the child is killed): no tool we run prints that much. */
const MAX_BUFFER = 256 * 1024 * 1024;
/** After SIGTERM (timeout, cancel), a child that is still there gets SIGKILL this much later. */
const FORCE_KILL_MS = 5000;
/**
 * After a stopped child has exited, how long its output pipes may stay open. Its own children
 * (dpkg and maintainer scripts under a killed mmdebstrap, say) inherit them and keep writing: a
 * cancel waited for them to finish on their own (35-43 s of a cancelled mmdebstrap install under
 * load), when the caller's unwinding is what stops them.
 */
const DRAIN_AFTER_STOP_MS = 1000;

/** The environment every child starts from: nothing of ours leaks in except these. */
export function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  };
}

/** How a run ended, beyond its exit status. */
interface Ending {
  exitCode: number | null;
  signal: string | undefined;
  spawnError: NodeJS.ErrnoException | undefined;
  timedOut: boolean;
  cancelled: boolean;
  overflow: boolean;
}

/** One output stream of the child: whole (a list of chunks) or a line tail when streaming. */
class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  readonly lines: LineTail | undefined;

  constructor(
    private readonly tail: number | undefined,
    onLine: ((line: string) => void) | undefined,
  ) {
    // Streaming keeps `tail` characters; otherwise the tail is only a line splitter.
    this.lines =
      tail !== undefined || onLine ? new LineTail(tail ?? 0, onLine ?? (() => undefined)) : undefined;
  }

  /** Takes a chunk; false once the output is larger than MAX_BUFFER. */
  push(chunk: Buffer): boolean {
    this.lines?.push(chunk);
    if (this.tail !== undefined) return true;
    this.chunks.push(chunk);
    this.size += chunk.length;
    return this.size <= MAX_BUFFER;
  }

  end(): void {
    this.lines?.end();
  }

  buffer(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.tail !== undefined ? (this.lines?.text ?? '') : this.buffer().toString('utf8');
  }
}

/** Runs `argv[0]` with `argv.slice(1)`; throws an E_EXEC XenkitError when it fails. */
export async function runCommand(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new XenkitError('E_EXEC', 'no command given');
  const sink = options.sink ?? silentSink;
  const started = Date.now();
  const inherit = options.inheritStdio === true;
  const onLine = inherit || options.binary ? undefined : options.onLine;
  const streaming = options.captureTail !== undefined && !inherit && !options.binary;
  const lineSink = (stream: 'stdout' | 'stderr') =>
    streaming
      ? (line: string) => {
          onLine?.(line, stream);
          sink({ type: 'output', command: file, stream, line });
        }
      : onLine && ((line: string) => onLine(line, stream));
  const tail = streaming ? options.captureTail : undefined;
  const out = new Capture(tail, lineSink('stdout'));
  const err = new Capture(tail, lineSink('stderr'));

  const ending = await run(file, args, options, inherit, out, err);
  out.end();
  err.end();

  const durationMs = Date.now() - started;
  const stdout = options.binary ? '' : out.text();
  const stderr = err.text();
  sink({
    type: 'exec',
    argv: [...argv],
    exitCode: ending.exitCode,
    signal: ending.signal,
    durationMs,
    stdout,
    stderr,
    ...(streaming ? { streamed: true } : {}),
  });
  const result: ExecResult = {
    argv: [...argv],
    exitCode: ending.exitCode ?? -1,
    signal: ending.signal,
    stdout: options.binary ? out.buffer().toString('latin1') : stdout,
    stderr,
    durationMs,
  };
  const failed =
    ending.spawnError !== undefined ||
    ending.timedOut ||
    ending.cancelled ||
    ending.overflow ||
    ending.signal !== undefined ||
    ending.exitCode !== 0;
  if (failed && !options.allowFailure) throw execError(result, ending);
  return result;
}

/** The program `chroot DIR PROGRAM ...` execs into (so a killed run's apt-get is still its child). */
function wrappedProgram(file: string, args: readonly string[]): string | undefined {
  if (path.basename(file) !== 'chroot') return undefined;
  const program = args.filter((a) => !a.startsWith('-'))[1];
  return program === undefined ? undefined : path.basename(program);
}

/** Spawns the child and settles once it has exited and its output has been read to the end. */
function run(
  file: string,
  args: string[],
  options: ExecOptions,
  inherit: boolean,
  out: Capture,
  err: Capture,
): Promise<Ending> {
  const ending: Ending = {
    exitCode: null,
    signal: undefined,
    spawnError: undefined,
    timedOut: false,
    cancelled: false,
    overflow: false,
  };
  if (options.signal?.aborted) return Promise.resolve({ ...ending, cancelled: true });
  const stdin = options.input !== undefined ? 'pipe' : inherit ? 'inherit' : 'ignore';
  const output = inherit ? 'inherit' : 'pipe';
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: options.cwd,
        env: { ...baseEnv(), ...options.env, ...runMarkerEnv() },
        stdio: [stdin, output, output],
      });
    } catch (error) {
      resolve({ ...ending, spawnError: error as NodeJS.ErrnoException });
      return;
    }
    // A child of a journaled run is recorded, so a run killed outright does not leave it orphaned.
    const untrack = trackChild(child.pid, path.basename(file), wrappedProgram(file, args));
    const timers: NodeJS.Timeout[] = [];
    const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;
    // Stopped and gone: what its descendants still write into its pipes is nobody's output.
    const stopReading = (): void => {
      timers.push(
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, DRAIN_AFTER_STOP_MS).unref(),
      );
    };
    const stop = (why: 'timedOut' | 'cancelled' | 'overflow'): void => {
      if (ending.timedOut || ending.cancelled || ending.overflow) return;
      ending[why] = true;
      if (hasExited()) return stopReading();
      child.kill(why === 'overflow' ? 'SIGKILL' : 'SIGTERM');
      timers.push(setTimeout(() => child.kill('SIGKILL'), FORCE_KILL_MS).unref());
    };
    const onAbort = (): void => stop('cancelled');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) timers.push(setTimeout(() => stop('timedOut'), options.timeoutMs));
    const settle = (): void => {
      untrack();
      for (const timer of timers) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(ending);
    };

    child.stdout?.on('data', (chunk: Buffer) => out.push(chunk) || stop('overflow'));
    child.stderr?.on('data', (chunk: Buffer) => err.push(chunk) || stop('overflow'));
    if (child.stdin) {
      // A child that exits without reading its input closes the pipe: not our failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
    child.on('error', (error: NodeJS.ErrnoException) => {
      ending.spawnError ??= error;
      // A child that never started emits no 'close' of its own on every Node version.
      if (child.pid === undefined) settle();
    });
    child.on('exit', () => {
      if (ending.timedOut || ending.cancelled || ending.overflow) stopReading();
    });
    child.on('close', (code, signal) => {
      ending.exitCode = code;
      ending.signal = signal ?? undefined;
      settle();
    });
  });
}

function execError(out: ExecResult, ending: Ending): XenkitError {
  const command = out.argv.map(quoteArg).join(' ');
  const name = out.argv[0] ?? '?';
  if (ending.cancelled) {
    return new XenkitError('E_CANCELLED', `cancelled: ${command}`, { kind: 'cancelled' });
  }
  if (ending.spawnError?.code === 'ENOENT') {
    return new XenkitError('E_TOOL_MISSING', `${name} is not installed (needed to run: ${command})`, {
      hint: `install the package that provides ${name}, e.g. apt-get install ${name}`,
    });
  }
  if (ending.spawnError) {
    return new XenkitError('E_EXEC', `${name} could not be started: ${ending.spawnError.message}`, {
      details: `command: ${command}`,
    });
  }
  const how = ending.timedOut
    ? 'timed out'
    : ending.overflow
      ? `printed more than ${MAX_BUFFER / 1024 / 1024} MiB`
      : out.signal
        ? `was killed by ${out.signal}`
        : `exited with status ${out.exitCode}`;
  const lastLines = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-5).join('\n');
  return new XenkitError('E_EXEC', `${name} ${how}: ${lastLines.split('\n').at(-1) ?? ''}`.trim(), {
    details: `command: ${command}\n${lastLines}`,
  });
}

/** Whether a program is on `pathEnv` (default: this process's PATH), without running it. */
export async function hasCommand(name: string, pathEnv: string = process.env.PATH ?? ''): Promise<boolean> {
  const { access, constants } = await import('node:fs/promises');
  const path = await import('node:path');
  for (const dir of pathEnv.split(':')) {
    if (!dir) continue;
    try {
      await access(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

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

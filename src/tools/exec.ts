/**
 * The one way xenkit runs a program: argv arrays (never a shell), a timeout, cancellation through
 * an AbortSignal, stdin for secrets (never argv or the environment), and a log event per run.
 * execa is used here and nowhere else.
 */
import { finished } from 'node:stream/promises';
import { execa, type ResultPromise } from 'execa';
import { XenkitError } from '../errors.js';
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

/** The environment every child starts from: nothing of ours leaks in except these. */
export function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  };
}

/** Runs `argv[0]` with `argv.slice(1)`; throws an E_EXEC XenkitError when it fails. */
export async function runCommand(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new XenkitError('E_EXEC', 'no command given');
  const sink = options.sink ?? silentSink;
  const started = Date.now();
  const env = { ...baseEnv(), ...options.env };
  const onLine = options.inheritStdio || options.binary ? undefined : options.onLine;
  const streaming = options.captureTail !== undefined && !options.inheritStdio && !options.binary;
  // preserveNewlines keeps the captured text byte-identical to a run without the tap.
  const tap = (stream: 'stdout' | 'stderr') => ({
    *transform(line: unknown): Generator<unknown> {
      onLine?.(String(line).replace(/\r?\n$/, ''), stream);
      yield line;
    },
    preserveNewlines: true,
  });
  const child: ResultPromise = execa(file, args, {
    cwd: options.cwd,
    env,
    extendEnv: false,
    input: options.input,
    stdin: options.input === undefined && !options.inheritStdio ? 'ignore' : undefined,
    stdio: options.inheritStdio ? 'inherit' : undefined,
    ...(onLine && !streaming ? { stdout: ['pipe', tap('stdout')], stderr: ['pipe', tap('stderr')] } : {}),
    ...(streaming ? { buffer: false } : {}),
    timeout: options.timeoutMs,
    cancelSignal: options.signal,
    forceKillAfterDelay: 5000,
    reject: false,
    stripFinalNewline: false,
    encoding: options.binary ? 'buffer' : 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const tails = streaming
    ? streamLines(child, options.captureTail ?? 0, (line, stream) => {
        onLine?.(line, stream);
        sink({ type: 'output', command: file, stream, line });
      })
    : undefined;
  const result = await child;
  if (tails) await tails.done;
  const durationMs = Date.now() - started;
  const stdout = tails ? tails.stdout.text : typeof result.stdout === 'string' ? result.stdout : '';
  const stderr = tails ? tails.stderr.text : typeof result.stderr === 'string' ? result.stderr : '';
  const exitCode = result.exitCode ?? -1;
  const signal = result.signal ?? undefined;
  sink({
    type: 'exec',
    argv: [...argv],
    exitCode: result.exitCode ?? null,
    signal,
    durationMs,
    stdout,
    stderr,
    ...(tails ? { streamed: true } : {}),
  });
  const out: ExecResult = {
    argv: [...argv],
    exitCode,
    signal,
    stdout: options.binary ? Buffer.from(result.stdout as unknown as Uint8Array).toString('latin1') : stdout,
    stderr,
    durationMs,
  };
  if (result.failed && !options.allowFailure) throw execError(out, result);
  return out;
}

/** Feeds a child's stdout and stderr through LineTails; `done` settles once both have ended. */
function streamLines(
  child: ResultPromise,
  limit: number,
  onLine: (line: string, stream: 'stdout' | 'stderr') => void,
): { stdout: LineTail; stderr: LineTail; done: Promise<void> } {
  const tails = {
    stdout: new LineTail(limit, (line) => onLine(line, 'stdout')),
    stderr: new LineTail(limit, (line) => onLine(line, 'stderr')),
  };
  const ends = (['stdout', 'stderr'] as const).map(async (name) => {
    const stream = child[name];
    if (!stream) return;
    stream.on('data', (chunk: Buffer | string) => tails[name].push(chunk));
    // A stream destroyed by a kill or a timeout still ends the run; execa reports why.
    await finished(stream).catch(() => undefined);
    tails[name].end();
  });
  return { ...tails, done: Promise.all(ends).then(() => undefined) };
}

function execError(
  out: ExecResult,
  result: { isCanceled?: boolean; timedOut?: boolean; code?: string; originalMessage?: string },
): XenkitError {
  const command = out.argv.map(quoteArg).join(' ');
  const name = out.argv[0] ?? '?';
  if (result.isCanceled) {
    return new XenkitError('E_CANCELLED', `cancelled: ${command}`, { kind: 'cancelled' });
  }
  if (result.code === 'ENOENT') {
    return new XenkitError('E_TOOL_MISSING', `${name} is not installed (needed to run: ${command})`, {
      hint: `install the package that provides ${name}, e.g. apt-get install ${name}`,
    });
  }
  const how = result.timedOut
    ? 'timed out'
    : out.signal
      ? `was killed by ${out.signal}`
      : `exited with status ${out.exitCode}`;
  const lastLines = (out.stderr.trim() || out.stdout.trim()).split('\n').slice(-5).join('\n');
  return new XenkitError('E_EXEC', `${name} ${how}: ${lastLines.split('\n').at(-1) ?? ''}`.trim(), {
    details: `command: ${command}\n${lastLines}`,
  });
}

/** Whether a program is on PATH (no execution). */
export async function hasCommand(name: string): Promise<boolean> {
  const { access, constants } = await import('node:fs/promises');
  const path = await import('node:path');
  for (const dir of (process.env.PATH ?? '').split(':')) {
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

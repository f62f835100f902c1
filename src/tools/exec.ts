/**
 * The one way xenkit runs a program: argv arrays (never a shell), a timeout, cancellation through
 * an AbortSignal, stdin for secrets (never argv or the environment), and a log event per run.
 * Built on node:child_process directly: it loads in a millisecond, where a wrapper library cost
 * every command a tenth of a second before it did anything. The child itself is run in
 * exec-child.ts and its output kept in exec-capture.ts; programs not waited for (detached, tied to
 * this process, piped) are exec-spawn.ts. Callers import all of it from here.
 */
import { XenkitError } from '../errors.js';
import { quoteArg, silentSink } from '../log/events.js';
import { Capture, MAX_BUFFER } from './exec-capture.js';
import { runChild, type Ending } from './exec-child.js';
import type { ExecOptions, ExecResult } from './exec-options.js';

export { baseEnv, type ExecOptions, type ExecResult } from './exec-options.js';
export { runPiped, spawnDetached, spawnTied, type TiedChild } from './exec-spawn.js';

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

  const ending = await runChild(file, args, options, inherit, out, err);
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

/** The error of a failed run: what ran, how it ended, the tail of what it printed. */
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

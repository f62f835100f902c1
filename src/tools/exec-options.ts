/**
 * What a run of a program is given and what it gives back (runCommand in exec.ts), and the
 * environment every child starts from.
 */
import type { EventSink } from '../log/events.js';

export interface ExecOptions {
  cwd?: string;
  /** Extra environment variables, added to a minimal base environment (PATH, LANG=C). */
  env?: Record<string, string | undefined>;
  /** Data written to the child's stdin (the only channel for secrets). */
  input?: string | Buffer;
  /** An open file as the child's stdin, read from its current offset (instead of `input`). */
  stdinFd?: number;
  /** An open file as the child's stdout (not captured then). */
  stdoutFd?: number;
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

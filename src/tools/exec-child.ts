/**
 * One child process run to its end: spawned with argv (never a shell) and the base environment,
 * its input written, its output handed to the captures, and stopped on a timeout, a cancel or too
 * much output (SIGTERM, then SIGKILL); settles once it has exited and its output has been read.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { runMarkerEnv, trackChild } from '../plan/run-journal.js';
import type { Capture } from './exec-capture.js';
import { baseEnv, type ExecOptions } from './exec-options.js';

/** After SIGTERM (timeout, cancel), a child that is still there gets SIGKILL this much later. */
const FORCE_KILL_MS = 5000;
/**
 * After a stopped child has exited, how long its output pipes may stay open. Its own children
 * (dpkg and maintainer scripts under a killed mmdebstrap, say) inherit them and keep writing: a
 * cancel waited for them to finish on their own (35-43 s of a cancelled mmdebstrap install under
 * load), when the caller's unwinding is what stops them.
 */
const DRAIN_AFTER_STOP_MS = 1000;

/** How a run ended, beyond its exit status. */
export interface Ending {
  exitCode: number | null;
  signal: string | undefined;
  spawnError: NodeJS.ErrnoException | undefined;
  timedOut: boolean;
  cancelled: boolean;
  overflow: boolean;
}

/** The program `chroot DIR PROGRAM ...` execs into (so a killed run's apt-get is still its child). */
function wrappedProgram(file: string, args: readonly string[]): string | undefined {
  if (path.basename(file) !== 'chroot') return undefined;
  const program = args.filter((a) => !a.startsWith('-'))[1];
  return program === undefined ? undefined : path.basename(program);
}

/** Spawns the child and settles once it has exited and its output has been read to the end. */
export function runChild(
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
  const stdin = options.stdinFd ?? (options.input !== undefined ? 'pipe' : inherit ? 'inherit' : 'ignore');
  const output = inherit ? 'inherit' : 'pipe';
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, {
        cwd: options.cwd,
        env: { ...baseEnv(), ...options.env, ...runMarkerEnv() },
        stdio: [stdin, options.stdoutFd ?? output, output],
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

/**
 * The frame every guest-changing command runs its plan in: dead runs cleaned up first, a
 * progress display on stderr, the plan executed under a run journal and cancelled by
 * SIGINT/SIGTERM/SIGHUP, and a failure that says where the log is.
 */
import { XenkitError } from '../errors.js';
import { recoverDeadRuns, runJournalOptions } from '../images/recover.js';
import type { EventSink } from '../log/events.js';
import type { Reporter } from '../log/reporter.js';
import { RunLog } from '../log/run-log.js';
import type { Paths } from '../paths.js';
import { executePlan } from '../plan/executor.js';
import type { Plan } from '../plan/plan.js';
import { chooseProgressMode, createProgressReporter } from './progress.js';
import type { CliIO } from './run-cli.js';
import { withSignalAbort } from './signals.js';

/** Cleans up after dead runs (of any guest), saying each on stderr. */
export async function recoverBeforeRun(paths: Paths, io: CliIO): Promise<void> {
  await recoverDeadRuns(paths, (line) => io.stderr.write(`${line}\n`));
}

/** The progress display on stderr: none when `quiet` (--quiet or --json). */
export function startProgress(
  io: CliIO,
  quiet: boolean,
  options: { plain?: boolean } = {},
): Reporter & { stop(): void } {
  const mode = chooseProgressMode(io.stderr as NodeJS.WriteStream, quiet);
  // `plain`: other lines go to stderr between the steps (--verbose), which a live display would tear.
  return createProgressReporter(io.stderr, options.plain === true && mode === 'tty' ? 'plain' : mode);
}

export interface PlanRunOptions {
  paths: Paths;
  /** What the run journal calls the run, e.g. `clone web1 web2`. */
  journal: string;
  sink?: EventSink;
  reporter?: Reporter;
  /** XENKIT_FAILPOINT is read from here (tests fail the run after a step); absent: none. */
  env?: NodeJS.ProcessEnv;
  /** The guest's log: a failure without a hint of its own then says the run was undone and where the log is. */
  logPath?: string;
}

/** Executes `plan` journaled and cancellable by a signal; a failure has unwound what the plan made. */
export async function runPlan(plan: Plan, options: PlanRunOptions): Promise<void> {
  try {
    await withSignalAbort((signal) =>
      executePlan(plan, {
        sink: options.sink,
        reporter: options.reporter,
        signal,
        failAfter: options.env?.XENKIT_FAILPOINT,
        journal: runJournalOptions(options.paths, options.journal),
      }),
    );
  } catch (error) {
    if (error instanceof XenkitError && options.logPath !== undefined) {
      throw new XenkitError(error.code, error.message, {
        kind: error.kind,
        hint: error.hint ?? `everything this run made was removed; the log is ${options.logPath}`,
        details: error.details,
        cause: error,
      });
    }
    throw error;
  }
}

export interface LoggedRunOptions {
  paths: Paths;
  /** What the run journal calls the run, e.g. `resize-image web1`. */
  journal: string;
  io: CliIO;
  /** The guest's log: it gets `header` first, then every event of the run. */
  log: string;
  header: string;
  /** No progress display (--quiet, --json). */
  quiet: boolean;
  /** XENKIT_FAILPOINT is read from here. */
  env: NodeJS.ProcessEnv;
  /** Whether a failure without a hint of its own names the log (see PlanRunOptions.logPath). */
  failureNamesLog?: boolean;
  /** Called with the log once the run has ended, failed or not (clone refills its key pools). */
  afterRun?: (sink: EventSink) => void;
  /** A last line for the log after a run that succeeded, given its duration. */
  doneLine?: (totalMs: number) => string;
}

/**
 * The frame of a guest-changing command: the guest's log opened with a header line, a progress
 * display, runPlan, then the display stopped and the log closed whatever happened. Returns the
 * run's duration in milliseconds.
 */
export async function runLoggedPlan(plan: Plan, options: LoggedRunOptions): Promise<number> {
  const log = new RunLog(options.log);
  const reporter = startProgress(options.io, options.quiet);
  const started = performance.now();
  try {
    try {
      log.sink({ type: 'info', message: options.header });
      await runPlan(plan, {
        paths: options.paths,
        journal: options.journal,
        sink: log.sink,
        reporter,
        env: options.env,
        ...(options.failureNamesLog ? { logPath: options.log } : {}),
      });
    } finally {
      reporter.stop();
      options.afterRun?.(log.sink);
    }
    const totalMs = Math.round(performance.now() - started);
    if (options.doneLine) log.sink({ type: 'info', message: options.doneLine(totalMs) });
    return totalMs;
  } finally {
    log.close();
  }
}

/** Runs a Plan step by step; on failure or cancellation unwinds the undo stack in reverse. */
import { XenkitError } from '../errors.js';
import { describeStepFailure } from '../errors.js';
import { silentSink, type EventSink } from '../log/events.js';
import { silentReporter, type Reporter } from '../log/reporter.js';
import type { Plan, StepContext } from './plan.js';
import { openRunTemp, type RunTemp } from './run-temp.js';
import { RunJournal, setActiveJournal } from './run-journal.js';
import { UndoStack } from './undo-stack.js';

/** Crash safety of a run: where its journal and temporaries go, and how a dead run is cleaned up. */
export interface JournalOptions {
  /** Directory of run journals (persistent: `libDir/runs`). */
  dir: string;
  /** Where the run's private temporary directory goes (TMPDIR while it runs). */
  tmpRoot?: string;
  /** What runs, for `xenkit doctor` (e.g. `create-image web1`). */
  command: string;
  /** Cleans up after dead runs of `guest`; called by `lockGuest` once the guest's lock is held. */
  recover?: StepContext['recover'];
}

export interface ExecutePlanOptions {
  sink?: EventSink;
  reporter?: Reporter;
  signal?: AbortSignal;
  /** Shared state, pre-seeded by the caller if needed. */
  state?: Map<string, unknown>;
  /**
   * A failpoint for fault tests (XENKIT_FAILPOINT): `STEP` fails right after the step with this id
   * has done its work (the worst moment), so the tests can prove every step's changes are
   * unwound; `STEP:kill` sends this process SIGKILL there instead (nothing unwinds: crash recovery).
   */
  failAfter?: string;
  /** Journal the run, so that the next run can clean up after it if this one is killed. */
  journal?: JournalOptions;
}

export interface ExecutePlanResult {
  state: Map<string, unknown>;
  durationMs: number;
}

/**
 * Executes every step in order. If one throws, or the signal fires, everything registered so far
 * is undone in reverse order and the error is rethrown (with unwinding failures in its details).
 */
export async function executePlan(plan: Plan, options: ExecutePlanOptions = {}): Promise<ExecutePlanResult> {
  const sink = options.sink ?? silentSink;
  const reporter = options.reporter ?? silentReporter;
  const signal = options.signal ?? new AbortController().signal;
  const undo = new UndoStack();
  const state = options.state ?? new Map<string, unknown>();
  const ctx: StepContext = { undo, sink, reporter, signal, state, recover: options.journal?.recover };
  const journal = options.journal ? new RunJournal(options.journal.dir, options.journal.command) : undefined;
  undo.journal = journal;
  setActiveJournal(journal);
  let temp: RunTemp | undefined;
  const started = Date.now();
  try {
    if (journal && options.journal?.tmpRoot) temp = openRunTemp(options.journal.tmpRoot, journal);
    for (const step of plan.steps) {
      const stepStarted = Date.now();
      try {
        if (signal.aborted) throw cancelled(signal);
        sink({ type: 'step-start', id: step.id, title: step.title });
        reporter.stepStart(step.id, step.title);
        await step.run(ctx);
        if (signal.aborted) throw cancelled(signal);
        failpoint(options.failAfter, step.id);
        sink({ type: 'step-end', id: step.id, outcome: 'ok', durationMs: Date.now() - stepStarted });
        reporter.stepEnd(step.id, 'ok');
      } catch (error) {
        sink({ type: 'step-end', id: step.id, outcome: 'failed', durationMs: Date.now() - stepStarted });
        reporter.stepEnd(step.id, 'failed');
        const failure =
          signal.aborted && !(error instanceof XenkitError)
            ? cancelled(signal)
            : describeStepFailure(error, step.title);
        reporter.info(`unwinding ${undo.size} change(s) made so far`);
        const undoFailures = await undo.unwind(sink);
        if (undoFailures.length > 0 && failure instanceof XenkitError) {
          throw new XenkitError(failure.code, failure.message, {
            kind: failure.kind,
            hint: failure.hint,
            cause: failure,
            details: [failure.details, 'could not undo:', ...undoFailures].filter(Boolean).join('\n'),
          });
        }
        throw failure;
      }
    }
    await undo.commit(sink);
    return { state, durationMs: Date.now() - started };
  } finally {
    setActiveJournal(undefined);
    temp?.close();
    // What could not be undone stays in the journal, for the next run or `xenkit doctor`.
    if (journal && journal.records.length === 0) journal.remove();
  }
}

/**
 * Acts on XENKIT_FAILPOINT after step `id`: `STEP` throws, `STEP:kill` kills this process. Also
 * for commands that are not plans, at the points between their phases.
 */
export function failpoint(failAfter: string | undefined, id: string): void {
  if (failAfter === `${id}:kill`) process.kill(process.pid, 'SIGKILL');
  if (failAfter === id) {
    throw new XenkitError('E_FAILPOINT', `failpoint after step ${id} (XENKIT_FAILPOINT)`);
  }
}

function cancelled(signal: AbortSignal): XenkitError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'signal');
  return new XenkitError('E_CANCELLED', `cancelled (${reason}); everything made so far was undone`, {
    kind: 'cancelled',
  });
}

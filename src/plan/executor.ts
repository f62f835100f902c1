/** Runs a Plan step by step; on failure or cancellation unwinds the undo stack in reverse. */
import { XenkitError } from '../errors.js';
import { describeStepFailure } from '../errors.js';
import { silentSink, type EventSink } from '../log/events.js';
import { silentReporter, type Reporter } from '../log/reporter.js';
import type { Plan, StepContext } from './plan.js';
import { UndoStack } from './undo-stack.js';

export interface ExecutePlanOptions {
  sink?: EventSink;
  reporter?: Reporter;
  signal?: AbortSignal;
  /** Shared state, pre-seeded by the caller if needed. */
  state?: Map<string, unknown>;
  /**
   * A failpoint for fault tests: fail right after the step with this id has done its work (the
   * worst moment), so the tests can prove every step's changes are unwound.
   */
  failAfter?: string;
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
  const ctx: StepContext = { undo, sink, reporter, signal, state };
  const started = Date.now();
  for (const step of plan.steps) {
    const stepStarted = Date.now();
    try {
      if (signal.aborted) throw cancelled(signal);
      sink({ type: 'step-start', id: step.id, title: step.title });
      reporter.stepStart(step.id, step.title);
      await step.run(ctx);
      if (signal.aborted) throw cancelled(signal);
      if (options.failAfter === step.id) {
        throw new XenkitError('E_FAILPOINT', `failpoint after step ${step.id} (XENKIT_FAILPOINT)`);
      }
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
}

function cancelled(signal: AbortSignal): XenkitError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'signal');
  return new XenkitError('E_CANCELLED', `cancelled (${reason}); everything made so far was undone`, {
    kind: 'cancelled',
  });
}

/** Shared fixtures for the install tests: a StepContext that records (the InstallSpec: test/helpers). */
import type { LogEvent } from '../../src/log/events.js';
import type { Reporter } from '../../src/log/reporter.js';
import type { StepContext } from '../../src/plan/plan.js';
import { UndoStack } from '../../src/plan/undo-stack.js';

export interface RecordingContext extends StepContext {
  events: LogEvent[];
  progress: string[];
  warnings: string[];
}

/** A StepContext whose sink and reporter keep everything, with an optional abort signal. */
export function makeContext(signal: AbortSignal = new AbortController().signal): RecordingContext {
  const events: LogEvent[] = [];
  const progress: string[] = [];
  const warnings: string[] = [];
  const reporter: Reporter = {
    stepStart: () => undefined,
    stepEnd: () => undefined,
    progress: (_id, text) => progress.push(text),
    info: () => undefined,
    warn: (message) => warnings.push(message),
  };
  return {
    undo: new UndoStack(),
    sink: (e) => events.push(e),
    reporter,
    signal,
    state: new Map(),
    events,
    progress,
    warnings,
  };
}

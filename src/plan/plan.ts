/** A Plan: the ordered steps a command will take, each describing what it does and how to undo it. */
import type { EventSink } from '../log/events.js';
import type { Reporter } from '../log/reporter.js';
import type { UndoStack } from './undo-stack.js';

/** What a step will do, as data: printed by `--dry-run` and serialized by `--dry-run --json`. */
export type PlanAction =
  | { kind: 'run'; argv: string[]; stdin?: string }
  | { kind: 'write'; path: string; mode?: number; content?: string }
  | { kind: 'mkdir'; path: string; mode?: number }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'remove'; path: string }
  | { kind: 'note'; text: string };

/** Everything a running step may use. */
export interface StepContext {
  undo: UndoStack;
  sink: EventSink;
  reporter: Reporter;
  signal: AbortSignal;
  /** Values steps hand to later steps (e.g. the loop device a mount step attached). */
  state: Map<string, unknown>;
  /**
   * Cleans up what dead runs left of `guest` (their journals); `lockGuest` calls it once the
   * guest's lock is held. Absent when the run is not journaled (library use, tests).
   */
  recover?: ((guest: string, ctx: StepContext) => Promise<void>) | undefined;
}

/**
 * The part of a StepContext that a helper creating something needs: the undo stack to register
 * its removal, the sink for exec events and the signal to cancel with. Helpers below the plan
 * builders (storage, tools, images) take this rather than the whole context.
 */
export type StepScope = Pick<StepContext, 'undo' | 'sink' | 'signal'>;

export interface PlanStep {
  /** Stable dotted id: `storage.disk`, `install.bootstrap`, `config.domain`. */
  id: string;
  /** One line for humans: `Create disk image /srv/xen/domains/web1/disk.img (4G, sparse)`. */
  title: string;
  /** What it will do, for `--dry-run`. */
  actions: PlanAction[];
  /** Does the work; registers an undo for everything it creates. */
  run: (ctx: StepContext) => Promise<void>;
}

export interface Plan {
  /** What the plan builds, e.g. `guest web1`. */
  subject: string;
  steps: PlanStep[];
}

/** The serializable view of a plan (no functions), for `--dry-run --json`. */
export function planToJSON(plan: Plan): { subject: string; steps: Omit<PlanStep, 'run'>[] } {
  return {
    subject: plan.subject,
    steps: plan.steps.map(({ id, title, actions }) => ({ id, title, actions })),
  };
}

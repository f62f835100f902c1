/**
 * Typed keys for the values a step hands to later steps through `StepContext.state`. The map
 * holds `unknown`; a key made once with its type is the one place that narrows it, so the step
 * that reads a value gets the type the step that wrote it put in.
 */
import type { StepContext } from './plan.js';

type StateHolder = Pick<StepContext, 'state'>;

/** One value in the step state. */
export interface StateKey<T> {
  /** The map key: a stable dotted name such as `update.tree`. */
  readonly name: string;
  /** The value a step stored under this key, or undefined. */
  get(ctx: StateHolder): T | undefined;
  /** Stores `value` for the steps that follow. */
  set(ctx: StateHolder, value: T): void;
  /** Whether a step stored a value. */
  has(ctx: StateHolder): boolean;
  /** Forgets the value (once it is used up). */
  delete(ctx: StateHolder): void;
}

/** A list in the step state that steps add to, in order. */
export interface StateList<T> {
  readonly name: string;
  /** What steps added so far, oldest first (empty when nothing was). */
  items(ctx: StateHolder): readonly T[];
  /** Adds `item` at the end. */
  add(ctx: StateHolder, item: T): void;
}

/** A key for a value of type T in the step state. */
export function stateKey<T>(name: string): StateKey<T> {
  return {
    name,
    get: (ctx) => ctx.state.get(name) as T | undefined,
    set: (ctx, value) => void ctx.state.set(name, value),
    has: (ctx) => ctx.state.has(name),
    delete: (ctx) => void ctx.state.delete(name),
  };
}

/** A key for a list of T in the step state. */
export function stateList<T>(name: string): StateList<T> {
  const key = stateKey<readonly T[]>(name);
  return {
    name,
    items: (ctx) => key.get(ctx) ?? [],
    add: (ctx, item) => key.set(ctx, [...(key.get(ctx) ?? []), item]),
  };
}

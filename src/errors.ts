/** The one error type of xenkit: a stable code, a one-line message naming the input, and a hint. */

/** What kind of failure an error is; the CLI maps kinds to exit codes. */
export type ErrorKind = 'usage' | 'runtime' | 'cancelled';

export interface XenkitErrorOptions {
  kind?: ErrorKind;
  hint?: string;
  details?: string;
  cause?: unknown;
}

/** An error with a stable code (`E_SIZE`, `E_EXEC`, ...), a one-line message and an optional hint. */
export class XenkitError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: string | undefined;

  constructor(code: string, message: string, options: XenkitErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'XenkitError';
    this.code = code;
    this.kind = options.kind ?? 'runtime';
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A plain object for `--json` output. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Several validation errors found at once; the CLI prints each on its own line. */
export class ValidationErrors extends XenkitError {
  readonly errors: readonly XenkitError[];

  constructor(errors: readonly XenkitError[]) {
    const first = errors[0];
    super(first?.code ?? 'E_INVALID', first?.message ?? 'invalid input', {
      kind: 'usage',
      hint: first?.hint,
    });
    this.name = 'ValidationErrors';
    this.errors = errors;
  }

  override toJSON(): Record<string, unknown> {
    return { code: 'E_INVALID', kind: 'usage', errors: this.errors.map((e) => e.toJSON()) };
  }
}

/** A usage/config error: bad input from the user, exit status 2. */
export function usageError(code: string, message: string, hint?: string, cause?: unknown): XenkitError {
  return new XenkitError(code, message, { kind: 'usage', hint, cause });
}

/** A runtime failure: something went wrong while acting, exit status 1. */
export function runtimeError(code: string, message: string, hint?: string, cause?: unknown): XenkitError {
  return new XenkitError(code, message, { kind: 'runtime', hint, cause });
}

/** Exit status for an error: 2 for usage, 130 for cancellation, 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof XenkitError) {
    if (error.kind === 'usage') return 2;
    if (error.kind === 'cancelled') return 130;
  }
  return 1;
}

/** Collects errors during validation so that every problem is reported at once. */
export class ErrorCollector {
  readonly errors: XenkitError[] = [];

  add(code: string, message: string, hint?: string): void {
    this.errors.push(usageError(code, message, hint));
  }

  push(error: XenkitError): void {
    if (error instanceof ValidationErrors) this.errors.push(...error.errors);
    else this.errors.push(error);
  }

  /** Runs `fn`, recording a thrown XenkitError instead of propagating it. */
  attempt<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (error) {
      if (error instanceof XenkitError) {
        this.push(error);
        return undefined;
      }
      throw error;
    }
  }

  get isEmpty(): boolean {
    return this.errors.length === 0;
  }

  /** Throws ValidationErrors when anything was collected. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new ValidationErrors(this.errors);
  }
}

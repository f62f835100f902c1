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

// ---------------------------------------------------------------------------------------------
// Failures of the system rather than of xenkit (a full disk, a quota, a name too long for the
// filesystem) turned into one-line XenkitErrors, so that none of them reaches the user as a
// stack trace. The step executor adds the step it happened in; the top-level handler catches
// whatever is left.

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded|\bENOSPC\b|\bEDQUOT\b/i;

/** Where to tell the user to look for the stack trace. */
export const DEBUG_HINT = 'run again with XENKIT_DEBUG=1 to see the stack trace';

function errnoOf(error: unknown): NodeJS.ErrnoException | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? (error as NodeJS.ErrnoException) : undefined;
}

/** Whether `error` (a node errno error, a failed command, or one wrapping them) means "disk full". */
export function isNoSpace(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth += 1) {
    const code = errnoOf(e)?.code;
    if (code !== undefined && NO_SPACE_CODES.has(code)) return true;
    if (e instanceof XenkitError && NO_SPACE_TEXT.test(`${e.message}\n${e.details ?? ''}`)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** The file a "disk full" error was about: the errno's path, or the one a tool named. */
function noSpacePath(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 5; depth += 1) {
    const errno = errnoOf(e);
    if (errno?.path) return errno.path;
    const text = e instanceof XenkitError ? `${e.message}\n${e.details ?? ''}` : '';
    // cp: error writing '/x/disk.img': No space left on device; mkfs: /x: No space left ...
    const named =
      /['‘"](\/[^'’"\n]+)['’"]:? *(?:No space|Disk quota)/.exec(text) ??
      /(\/[^\s:'"]+): *(?:No space|Disk quota)/.exec(text);
    if (named?.[1]) return named[1];
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

/**
 * The error a failed step reports: a full disk or quota as E_NO_SPACE naming the path and the
 * step, any other bare errno error as one line naming the step. XenkitErrors pass unchanged
 * (an E_NO_SPACE gets the step added).
 */
export function describeStepFailure(error: unknown, stepTitle: string): unknown {
  if (error instanceof XenkitError && error.kind !== 'runtime') return error;
  if (isNoSpace(error)) {
    if (error instanceof XenkitError && error.code === 'E_NO_SPACE') {
      if (error.message.includes(' during step ')) return error;
      return new XenkitError(error.code, `${error.message} during step "${stepTitle}"`, {
        kind: error.kind,
        hint: error.hint,
        details: error.details,
        cause: error,
      });
    }
    const where = noSpacePath(error) ?? 'the device';
    return runtimeError(
      'E_NO_SPACE',
      `no space left on ${where} during step "${stepTitle}"`,
      'free some space there, or choose another --dir',
      error,
    );
  }
  const errno = errnoOf(error);
  if (errno && !(error instanceof XenkitError)) {
    return runtimeError(
      'E_SYSTEM',
      `step "${stepTitle}" failed: ${oneLine(errno.message)}`,
      DEBUG_HINT,
      error,
    );
  }
  return error;
}

/** Any error as a XenkitError for the top-level handler; unknown ones become one line. */
export function describeUnexpectedError(error: unknown): XenkitError {
  if (error instanceof XenkitError) return error;
  if (isNoSpace(error)) {
    return runtimeError(
      'E_NO_SPACE',
      `no space left on ${noSpacePath(error) ?? 'the device'}`,
      'free some space there, or choose another --dir',
      error,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  const errno = errnoOf(error);
  return new XenkitError(errno ? 'E_SYSTEM' : 'E_INTERNAL', oneLine(message), {
    kind: 'runtime',
    hint: errno ? DEBUG_HINT : `this is a bug in xenkit; ${DEBUG_HINT}`,
    cause: error,
  });
}

function oneLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** The one top-level handler: runs a command, maps errors to messages and exit codes. */
import { exitCodeFor, ValidationErrors, XenkitError } from '../errors.js';
import { escapeControlChars } from '../log/escape-control.js';
import { describeUnexpectedError } from '../errors.js';

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr };

/**
 * Prints an error the way every xenkit command does: one line each, then `hint:`. An error
 * that is not a XenkitError (a bug, or a system error no step expected) is one line too; its
 * stack trace is printed only with XENKIT_DEBUG set.
 */
export function printError(prog: string, error: unknown, io: CliIO, asJson: boolean): void {
  const debug = Boolean(process.env.XENKIT_DEBUG);
  if (asJson) {
    io.stdout.write(
      JSON.stringify({ ok: false, error: describeUnexpectedError(error).toJSON() }, null, 2) + '\n',
    );
    return;
  }
  const errors = error instanceof ValidationErrors ? error.errors : [error];
  for (const raw of errors) {
    const e = describeUnexpectedError(raw);
    // Messages quote user input: a control character in it must not reach the terminal.
    const label = e.code === 'E_INTERNAL' ? 'internal error' : 'error';
    io.stderr.write(`${prog}: ${label}: ${escapeControlChars(e.message)}\n`);
    if (e.hint) io.stderr.write(`  hint: ${escapeControlChars(e.hint)}\n`);
    // Details keep their lines (a tool's last output lines), never its escape sequences.
    const details = e.details === undefined ? undefined : escapeControlChars(e.details, '\n\t');
    if (details && debug) io.stderr.write(`${details}\n`);
    else if (details && e.kind === 'runtime') io.stderr.write(`${indent(details)}\n`);
    const stack = debug ? rootStack(raw) : undefined;
    if (stack) io.stderr.write(`${stack}\n`);
  }
}

/** The stack of the first error in the cause chain that is not a XenkitError (where it began). */
function rootStack(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; depth += 1) {
    if (!(e instanceof XenkitError)) return e.stack;
    e = e.cause;
  }
  return undefined;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

let pipesGuarded = false;

/**
 * A reader that goes away (`xen-list-images | head`) ends the output, not the command: writes to
 * a closed pipe are dropped instead of ending the process with a stack trace, and a command that
 * was changing something (a create whose summary nobody reads any more) finishes or unwinds as it
 * would have.
 */
function guardClosedPipes(): void {
  if (pipesGuarded) return;
  pipesGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

/**
 * A CommanderError (or InvalidArgumentError), known by its `commander.*` code rather than by
 * class, so that commands without commander (the lean listing entry) need not load it.
 */
function isCommanderError(error: unknown): error is Error & { code: string; exitCode: number } {
  const { code, exitCode } = (error ?? {}) as { code?: unknown; exitCode?: unknown };
  return (
    error instanceof Error &&
    typeof code === 'string' &&
    code.startsWith('commander.') &&
    typeof exitCode === 'number'
  );
}

/**
 * Runs `main` and exits with the right status: 0 on success, 2 for usage/config errors,
 * 1 for runtime failures, 130 when cancelled.
 */
export async function runCli(
  prog: string,
  main: () => Promise<number | void>,
  options: { io?: CliIO; wantsJson?: () => boolean } = {},
): Promise<number> {
  const io = options.io ?? processIO;
  guardClosedPipes();
  try {
    const code = await main();
    return code ?? 0;
  } catch (error) {
    if (isCommanderError(error)) {
      // commander has already printed its message (help, version or a usage error)
      return error.exitCode === 0 ? 0 : 2;
    }
    printError(prog, error, io, options.wantsJson?.() ?? false);
    return exitCodeFor(error);
  }
}

/** The one top-level handler: runs a command, maps errors to messages and exit codes. */
import { CommanderError } from 'commander';
import { exitCodeFor, ValidationErrors, XenkitError } from '../errors.js';

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const processIO: CliIO = { stdout: process.stdout, stderr: process.stderr };

/** Prints an error the way every xenkit command does: one line each, then `hint:`. */
export function printError(prog: string, error: unknown, io: CliIO, asJson: boolean): void {
  if (asJson) {
    const body =
      error instanceof XenkitError
        ? error.toJSON()
        : {
            code: 'E_INTERNAL',
            kind: 'runtime',
            message: error instanceof Error ? error.message : String(error),
          };
    io.stdout.write(JSON.stringify({ ok: false, error: body }, null, 2) + '\n');
    return;
  }
  const errors = error instanceof ValidationErrors ? error.errors : [error];
  for (const e of errors) {
    if (e instanceof XenkitError) {
      io.stderr.write(`${prog}: error: ${e.message}\n`);
      if (e.hint) io.stderr.write(`  hint: ${e.hint}\n`);
      if (e.details && process.env.XENKIT_DEBUG) io.stderr.write(`${e.details}\n`);
      else if (e.details && e.kind === 'runtime') io.stderr.write(`${indent(e.details)}\n`);
    } else {
      const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
      io.stderr.write(`${prog}: internal error: ${message}\n`);
    }
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
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
  try {
    const code = await main();
    return code ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed its message (help, version or a usage error)
      return error.exitCode === 0 ? 0 : 2;
    }
    printError(prog, error, io, options.wantsJson?.() ?? false);
    return exitCodeFor(error);
  }
}

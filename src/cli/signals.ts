/** Turns SIGINT/SIGTERM/SIGHUP into an AbortSignal for the duration of a long command. */

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs `fn` with a signal that aborts on the first SIGINT, SIGTERM or SIGHUP; the command then
 * unwinds what it made. Later signals are ignored so the unwinding itself is not interrupted.
 */
export async function withSignalAbort<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (!controller.signal.aborted) controller.abort(new Error(name));
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}

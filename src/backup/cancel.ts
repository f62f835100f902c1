/** Cancellation of the long loops of the repository (a SIGINT or SIGTERM aborts the signal). */
import { XenkitError } from '../errors.js';

/** Throws a cancelled XenkitError naming `what` when `signal` was aborted. */
export function cancelledIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new XenkitError('E_CANCELLED', `${what} was cancelled`, { kind: 'cancelled' });
}

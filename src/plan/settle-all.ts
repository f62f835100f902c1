/**
 * Awaits every promise, then throws the first failure. Unlike Promise.all, nothing is still
 * running when the error surfaces, so the undo that follows never races work in flight.
 */
export async function settleAll<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

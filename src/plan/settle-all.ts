/**
 * Awaits every promise, then throws the first failure. Unlike Promise.all, nothing is still
 * running when the error surfaces, so the undo that follows never races work in flight, and a
 * caller never returns while children it started still run. Typed like Promise.all (a tuple of
 * promises gives a tuple of values).
 */
export async function settleAll<T extends readonly unknown[] | []>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises as readonly unknown[]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

import { describe, expect, it } from 'vitest';
import { settleAll } from '../../src/plan/settle-all.js';

describe('settleAll', () => {
  it('returns every value in order', async () => {
    expect(await settleAll([Promise.resolve(1), Promise.resolve(2)])).toEqual([1, 2]);
  });

  it('throws the first failure only once every promise has settled', async () => {
    let slowDone = false;
    const slow = new Promise<number>((resolve) =>
      setTimeout(() => {
        slowDone = true;
        resolve(3);
      }, 50),
    );
    const error = await settleAll([
      Promise.reject(new Error('first')),
      slow,
      Promise.reject(new Error('second')),
    ]).catch((e: Error) => e);
    expect((error as Error).message).toBe('first');
    expect(slowDone).toBe(true);
  });
});

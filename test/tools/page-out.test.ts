import { describe, expect, it } from 'vitest';
import { MAX_RANGES, pageOut } from '../../src/tools/page-out.js';

describe('pageOut', () => {
  it('asks nothing of the kernel for no ranges', async () => {
    expect(await pageOut(process.pid, [])).toEqual({ advisedBytes: 0 });
  });

  it.each([
    [0, [{ start: 4096, length: 4096 }], 'no process 0'],
    [1.5, [{ start: 4096, length: 4096 }], 'no process 1.5'],
    [1, [{ start: -1, length: 4096 }], 'bad range -1+4096'],
    [1, [{ start: 4096, length: 0 }], 'bad range 4096+0'],
    [1, [{ start: 2 ** 64, length: 4096 }], 'bad range'],
  ])('refuses pid %s with ranges %j without running anything', async (pid, ranges, failed) => {
    expect(await pageOut(pid, ranges)).toEqual({ failed: expect.stringContaining(failed) });
  });

  it(`refuses more than ${MAX_RANGES} ranges (one process_madvise call)`, async () => {
    const ranges = Array.from({ length: MAX_RANGES + 1 }, (_, i) => ({
      start: (i + 1) * 4096,
      length: 4096,
    }));
    expect(await pageOut(1, ranges)).toEqual({ failed: `${MAX_RANGES + 1} ranges, over ${MAX_RANGES}` });
  });

  it("says why, and does not throw, when the process is gone (the kernel's own answer)", async () => {
    // Above the default pid_max of 4 194 304 (2^22): no process has it.
    expect(await pageOut(2 ** 22 + 7, [{ start: 4096, length: 4096 }])).toEqual({
      failed: 'pidfd_open: No such process',
    });
  });
});

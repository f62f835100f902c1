import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachLoop, detachLoop, listLoops, loopsOf } from '../../src/tools/losetup.js';
import { runCommand } from '../../src/tools/exec.js';
import { makeContext, makeTempDir, removeDir } from '../helpers/storage-fixtures.js';

let tmp: string;
beforeAll(() => {
  tmp = makeTempDir('losetup');
});
afterAll(() => removeDir(tmp));

describe('attachLoop (real losetup)', () => {
  it('attaches a file, lists it, and detaches it in the normal flow without leaving an undo', async () => {
    const file = path.join(tmp, 'a.img');
    await runCommand(['truncate', '-s', '8M', file]);
    const ctx = makeContext();
    const device = await attachLoop(file, ctx);
    expect(device).toMatch(/^\/dev\/loop\d+$/);
    expect(await loopsOf(file)).toEqual([device]);
    expect(await listLoops()).toContainEqual({ device, backingFile: file });
    expect(ctx.undo.describe()).toEqual([`detach loop device ${device}`]);
    await detachLoop(device, ctx);
    expect(ctx.undo.size).toBe(0);
    expect(await loopsOf(file)).toEqual([]);
  });

  it('detaches on unwind, and unwinding twice is harmless', async () => {
    const file = path.join(tmp, 'b.img');
    await runCommand(['truncate', '-s', '8M', file]);
    const ctx = makeContext();
    const device = await attachLoop(file, ctx);
    expect(await ctx.undo.unwind(ctx.sink)).toEqual([]);
    expect(await loopsOf(file)).toEqual([]);
    const again = makeContext();
    again.undo.push(`detach loop device ${device}`, () => detachLoop(device, again));
    expect(await again.undo.unwind(again.sink)).toEqual([]);
  });
});

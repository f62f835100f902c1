import { describe, expect, it } from 'vitest';
import { executePlan } from '../../src/plan/executor.js';
import type { Plan, PlanStep } from '../../src/plan/plan.js';
import { planToJSON } from '../../src/plan/plan.js';
import { XenkitError } from '../../src/errors.js';
import type { LogEvent } from '../../src/log/events.js';

function step(id: string, journal: string[], fail = false): PlanStep {
  return {
    id,
    title: `step ${id}`,
    actions: [{ kind: 'note', text: id }],
    run: async (ctx) => {
      journal.push(`do ${id}`);
      ctx.undo.push(`undo ${id}`, () => {
        journal.push(`undo ${id}`);
      });
      if (fail) throw new XenkitError('E_FAILPOINT', `step ${id} failed`);
    },
  };
}

describe('executePlan', () => {
  it('runs every step in order and keeps the results on success', async () => {
    const journal: string[] = [];
    const plan: Plan = { subject: 't', steps: [step('a', journal), step('b', journal)] };
    await executePlan(plan);
    expect(journal).toEqual(['do a', 'do b']);
  });

  it('unwinds everything made so far in reverse order when a step fails', async () => {
    const journal: string[] = [];
    const events: LogEvent[] = [];
    const plan: Plan = {
      subject: 't',
      steps: [step('a', journal), step('b', journal), step('c', journal, true)],
    };
    await expect(executePlan(plan, { sink: (e) => events.push(e) })).rejects.toThrow('step c failed');
    expect(journal).toEqual(['do a', 'do b', 'do c', 'undo c', 'undo b', 'undo a']);
    expect(events.filter((e) => e.type === 'undo')).toHaveLength(3);
  });

  it('keeps unwinding when one undo fails and reports it in the details', async () => {
    const journal: string[] = [];
    const bad: PlanStep = {
      id: 'bad-undo',
      title: 'bad undo',
      actions: [],
      run: async (ctx) => {
        ctx.undo.push('cannot undo', () => {
          throw new Error('busy');
        });
      },
    };
    const plan: Plan = { subject: 't', steps: [step('a', journal), bad, step('c', journal, true)] };
    const error = await executePlan(plan).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenkitError);
    expect((error as XenkitError).details).toContain('cannot undo: busy');
    expect(journal).toEqual(['do a', 'do c', 'undo c', 'undo a']);
  });

  it('stops and unwinds when the signal fires between steps', async () => {
    const journal: string[] = [];
    const controller = new AbortController();
    const abortAfter: PlanStep = {
      id: 'abort',
      title: 'abort',
      actions: [],
      run: async () => controller.abort(new Error('SIGTERM')),
    };
    const plan: Plan = { subject: 't', steps: [step('a', journal), abortAfter, step('never', journal)] };
    const error = await executePlan(plan, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as XenkitError).kind).toBe('cancelled');
    expect((error as XenkitError).message).toContain('SIGTERM');
    expect(journal).toEqual(['do a', 'undo a']);
  });

  it('serializes a plan without its functions', () => {
    const plan: Plan = { subject: 'guest x', steps: [step('a', [])] };
    expect(JSON.parse(JSON.stringify(planToJSON(plan)))).toEqual({
      subject: 'guest x',
      steps: [{ id: 'a', title: 'step a', actions: [{ kind: 'note', text: 'a' }] }],
    });
  });
});

describe('executePlan with system errors', () => {
  const errno = (code: string, message: string, extra: Record<string, unknown> = {}): Error =>
    Object.assign(new Error(message), { code, ...extra });
  const failing = (error: unknown, journal: string[]): PlanStep => ({
    id: 'copy',
    title: 'Copy the images',
    actions: [],
    run: async (ctx) => {
      journal.push('do copy');
      ctx.undo.push('remove the copy', () => {
        journal.push('undo copy');
      });
      throw error;
    },
  });

  it.each([
    [
      errno('ENOSPC', "ENOSPC: no space left on device, write '/small/disk.img'", {
        path: '/small/disk.img',
      }),
    ],
    [errno('EDQUOT', 'EDQUOT: disk quota exceeded, write', { path: '/small/disk.img' })],
    [
      new XenkitError(
        'E_EXEC',
        "cp exited with status 1: cp: error writing '/small/disk.img': No space left",
        {
          details:
            "command: cp a /small/disk.img\ncp: error writing '/small/disk.img': No space left on device",
        },
      ),
    ],
  ])('reports a full disk as one line naming the file and the step, after unwinding: %s', async (error) => {
    const journal: string[] = [];
    const thrown = await executePlan({ subject: 't', steps: [failing(error, journal)] }).catch(
      (e: unknown) => e,
    );
    expect(journal).toEqual(['do copy', 'undo copy']);
    expect(thrown).toBeInstanceOf(XenkitError);
    expect((thrown as XenkitError).code).toBe('E_NO_SPACE');
    expect((thrown as XenkitError).message).toBe(
      'no space left on /small/disk.img during step "Copy the images"',
    );
    expect((thrown as XenkitError).hint).toMatch(/free some space|another --dir/);
    expect((thrown as XenkitError).kind).toBe('runtime');
  });

  it('reports any other errno error as one line naming the step', async () => {
    const journal: string[] = [];
    const error = errno('ENAMETOOLONG', "ENAMETOOLONG: name too long, mkdir '/x/aaaa'");
    const thrown = await executePlan({ subject: 't', steps: [failing(error, journal)] }).catch(
      (e: unknown) => e,
    );
    expect(journal).toEqual(['do copy', 'undo copy']);
    expect((thrown as XenkitError).code).toBe('E_SYSTEM');
    expect((thrown as XenkitError).message).toBe(
      `step "Copy the images" failed: ENAMETOOLONG: name too long, mkdir '/x/aaaa'`,
    );
    expect((thrown as XenkitError).cause).toBe(error);
  });
});

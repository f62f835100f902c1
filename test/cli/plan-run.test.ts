import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLoggedPlan, runPlan } from '../../src/cli/plan-run.js';
import { captureIo } from '../helpers/capture-io.js';
import { runtimeError } from '../../src/errors.js';
import { runsDir } from '../../src/images/recover.js';
import { makePaths, type Paths } from '../../src/paths.js';
import type { Plan } from '../../src/plan/plan.js';

let paths: Paths;
beforeEach(() => {
  paths = makePaths(fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-plan-run-')));
});
afterEach(() => fs.rmSync(paths.root, { recursive: true, force: true }));

/** A plan that makes `made` (with its undo) and then fails with `error` if one is given. */
function plan(made: string, error?: Error): Plan {
  return {
    subject: 'test',
    steps: [
      {
        id: 'make',
        title: 'Make a file',
        actions: [],
        run: async (ctx) => {
          fs.writeFileSync(made, 'x');
          ctx.undo.push(`remove ${made}`, () => fs.rmSync(made, { force: true }));
        },
      },
      {
        id: 'fail',
        title: 'Maybe fail',
        actions: [],
        run: async () => {
          if (error) throw error;
        },
      },
    ],
  };
}

describe('runPlan', () => {
  it('runs the plan and leaves no run journal behind when it succeeds', async () => {
    const made = path.join(paths.root, 'made');
    await runPlan(plan(made), { paths, journal: 'test web1' });
    expect(fs.existsSync(made)).toBe(true);
    expect(fs.existsSync(runsDir(paths)) ? fs.readdirSync(runsDir(paths)) : []).toEqual([]);
  });

  it('unwinds a failing plan and adds where the log is to an error without a hint', async () => {
    const made = path.join(paths.root, 'made');
    await expect(
      runPlan(plan(made, runtimeError('E_EXEC', 'mkfs failed')), {
        paths,
        journal: 'x',
        logPath: '/var/log/g.log',
      }),
    ).rejects.toMatchObject({
      code: 'E_EXEC',
      message: 'mkfs failed',
      hint: 'everything this run made was removed; the log is /var/log/g.log',
    });
    expect(fs.existsSync(made)).toBe(false);
  });

  it.each([
    [
      'a hint of its own',
      runtimeError('E_EXEC', 'mkfs failed', 'install e2fsprogs'),
      '/var/log/g.log',
      'install e2fsprogs',
    ],
    ['no log to point at', runtimeError('E_EXEC', 'mkfs failed'), undefined, undefined],
  ])('keeps the hint of an error with %s', async (_what, error, logPath, hint) => {
    await expect(
      runPlan(plan(path.join(paths.root, 'made'), error), { paths, journal: 'x', logPath }),
    ).rejects.toMatchObject({ code: 'E_EXEC', hint });
  });

  it('fails after the step XENKIT_FAILPOINT names, only when given the environment', async () => {
    const made = path.join(paths.root, 'made');
    const env = { XENKIT_FAILPOINT: 'make' };
    await expect(runPlan(plan(made), { paths, journal: 'x', env })).rejects.toMatchObject({
      code: 'E_FAILPOINT',
    });
    expect(fs.existsSync(made)).toBe(false);
    await runPlan(plan(made), { paths, journal: 'x' });
    expect(fs.existsSync(made)).toBe(true);
  });
});

describe('runLoggedPlan', () => {
  const options = (log: string, calls: string[]) => ({
    paths,
    journal: 'x',
    io: captureIo().io,
    log,
    header: 'xenkit test web1',
    quiet: true,
    env: {},
    afterRun: () => calls.push('after'),
    doneLine: (ms: number) => `done in ${ms} ms`,
  });

  it('writes the header, the steps and the done line to the log, and returns the duration', async () => {
    const log = path.join(paths.root, 'web1.log');
    const calls: string[] = [];
    const ms = await runLoggedPlan(plan(path.join(paths.root, 'made')), options(log, calls));
    expect(ms).toBeGreaterThanOrEqual(0);
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toContain('xenkit test web1');
    expect(text).toContain('Make a file');
    expect(text).toMatch(/done in \d+ ms/);
    expect(calls).toEqual(['after']);
  });

  it('still runs afterRun and closes the log on a failure, and names the log only when asked', async () => {
    const log = path.join(paths.root, 'web1.log');
    const calls: string[] = [];
    const failing = () => plan(path.join(paths.root, 'made'), runtimeError('E_EXEC', 'mkfs failed'));
    await expect(runLoggedPlan(failing(), options(log, calls))).rejects.toMatchObject({ hint: undefined });
    await expect(
      runLoggedPlan(failing(), { ...options(log, calls), failureNamesLog: true }),
    ).rejects.toMatchObject({ hint: `everything this run made was removed; the log is ${log}` });
    expect(calls).toEqual(['after', 'after']);
    expect(fs.readFileSync(log, 'utf8')).not.toContain('done in');
    expect(fs.existsSync(path.join(paths.root, 'made'))).toBe(false);
  });
});

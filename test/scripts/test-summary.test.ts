import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

interface Project {
  /** The JSON report's counts. */
  passed: number;
  failed: number;
  /** Seconds of file i (test/fI.test.ts), as scripts/file-durations-reporter.mjs writes them. */
  seconds?: number[];
  failedFile?: number;
}

/** Runs the summary over one NAME.json (and NAME.durations) per project; its output and exit code. */
function summary(projects: Record<string, Project>): { out: string; code: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-summary-'));
  try {
    const reports = Object.entries(projects).map(([name, p]) => {
      const report = path.join(dir, `${name}.json`);
      fs.writeFileSync(
        report,
        JSON.stringify({ numPassedTests: p.passed, numFailedTests: p.failed, numPendingTests: 1 }),
      );
      if (p.seconds) {
        const files = p.seconds.map((seconds, i) => ({
          file: path.resolve(`test/f${i}.test.ts`),
          seconds,
          state: i === p.failedFile ? 'failed' : 'passed',
        }));
        fs.writeFileSync(path.join(dir, `${name}.durations`), JSON.stringify(files));
      }
      return report;
    });
    try {
      const out = execFileSync('node', ['scripts/test-summary.mjs', ...reports], { encoding: 'utf8' });
      return { out, code: 0 };
    } catch (error) {
      const e = error as { stdout: string; status: number };
      return { out: e.stdout, code: e.status };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('scripts/test-summary.mjs (the closing lines of npm test)', () => {
  it("prints each project's 10 slowest files, slowest first, then the totals", () => {
    const { out, code } = summary({
      root: { passed: 12, failed: 0, seconds: [5, 300.25, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11] },
      unit: { passed: 1, failed: 0, seconds: [0.5] },
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('slowest files of root:');
    expect(lines[1]).toBe('    300.3 s  test/f1.test.ts');
    expect(lines.slice(1, 11).map((l) => l.trim().split(/\s+/)[0])).toEqual([
      '300.3',
      '11.0',
      '10.0',
      '9.0',
      '8.0',
      '7.0',
      '6.0',
      '5.0',
      '4.0',
      '3.0',
    ]);
    expect(lines.slice(11)).toEqual([
      'slowest files of unit:',
      '      0.5 s  test/f0.test.ts',
      '13 passed, 0 failed, 2 skipped',
    ]);
    expect(code).toBe(0);
  });

  it('marks a failed file among the slowest and exits 1', () => {
    const { out, code } = summary({ vm: { passed: 1, failed: 1, seconds: [20, 30], failedFile: 0 } });
    expect(out).toContain('     20.0 s  (failed) test/f0.test.ts');
    expect(out.trim().split('\n').at(-1)).toBe('1 passed, 1 failed, 1 skipped');
    expect(code).toBe(1);
  });

  it('prints only the totals for a report without durations', () => {
    expect(summary({ unit: { passed: 3, failed: 0 } }).out).toBe('3 passed, 0 failed, 1 skipped\n');
  });
});

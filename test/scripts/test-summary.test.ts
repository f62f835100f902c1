import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** A vitest JSON report with one file per entry of `seconds` (file i took seconds[i]). */
function report(seconds: number[], failedFile?: number): object {
  return {
    numPassedTests: seconds.length,
    numFailedTests: failedFile === undefined ? 0 : 1,
    numPendingTests: 1,
    testResults: seconds.map((s, i) => ({
      name: path.resolve(`test/f${i}.root.test.ts`),
      startTime: 1_000_000,
      endTime: 1_000_000 + s * 1000,
      status: i === failedFile ? 'failed' : 'passed',
    })),
  };
}

function summary(reports: Record<string, object>): { out: string; code: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xenkit-summary-'));
  try {
    const files = Object.entries(reports).map(([name, body]) => {
      const file = path.join(dir, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify(body));
      return file;
    });
    try {
      return {
        out: execFileSync('node', ['scripts/test-summary.mjs', ...files], { encoding: 'utf8' }),
        code: 0,
      };
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
      root: report([5, 300.25, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]),
      unit: report([0.5]),
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('slowest files of root:');
    expect(lines[1]).toBe('    300.3 s  test/f1.root.test.ts');
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
    expect(lines[11]).toBe('slowest files of unit:');
    expect(lines.at(-1)).toBe('13 passed, 0 failed, 2 skipped');
    expect(code).toBe(0);
  });

  it('marks a failed file among the slowest and exits 1', () => {
    const { out, code } = summary({ vm: report([20, 30], 0) });
    expect(out).toContain('     20.0 s  (failed) test/f0.root.test.ts');
    expect(out.trim().split('\n').at(-1)).toBe('2 passed, 1 failed, 1 skipped');
    expect(code).toBe(1);
  });
});

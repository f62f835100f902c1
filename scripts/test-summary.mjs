// Adds up vitest JSON reports: prints each report's 10 slowest files (where CI's time goes), then
// one closing line "N passed, N failed, N skipped".
import { readFileSync } from 'node:fs';
import path from 'node:path';

const SLOWEST = 10;

/** The report's slowest files, one line each: seconds, status, path relative to the repository. */
function slowestFiles(report) {
  const files = (report.testResults ?? [])
    .map((r) => ({
      name: path.relative(process.cwd(), r.name),
      s: (r.endTime - r.startTime) / 1000,
      status: r.status,
    }))
    .filter((f) => Number.isFinite(f.s))
    .sort((a, b) => b.s - a.s)
    .slice(0, SLOWEST);
  return files.map(
    (f) => `  ${f.s.toFixed(1).padStart(7)} s  ${f.status === 'passed' ? '' : `(${f.status}) `}${f.name}`,
  );
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    console.error(`test-summary: no report in ${file} (the run crashed?)`);
    failed += 1;
    continue;
  }
  const lines = slowestFiles(report);
  if (lines.length > 0) console.log(`slowest files of ${path.basename(file, '.json')}:\n${lines.join('\n')}`);
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if ((report.numFailedTestSuites ?? 0) > 0 && (report.numFailedTests ?? 0) === 0)
    failed += report.numFailedTestSuites;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);

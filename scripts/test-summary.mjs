// Adds up vitest JSON reports: prints each project's 10 slowest files (from PROJECT.durations beside
// PROJECT.json, written by scripts/file-durations-reporter.mjs: where CI's time goes), then one
// closing line "N passed, N failed, N skipped".
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SLOWEST = 10;

/** The slowest files in `durationsFile`, one line each: seconds, state unless passed, path in the repository. */
function slowestFiles(durationsFile) {
  if (!existsSync(durationsFile)) return [];
  return JSON.parse(readFileSync(durationsFile, 'utf8'))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, SLOWEST)
    .map((f) => {
      const state = f.state === 'passed' ? '' : `(${f.state}) `;
      return `  ${f.seconds.toFixed(1).padStart(7)} s  ${state}${path.relative(process.cwd(), f.file)}`;
    });
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  const lines = slowestFiles(file.replace(/\.json$/, '.durations'));
  if (lines.length > 0) console.log(`slowest files of ${path.basename(file, '.json')}:\n${lines.join('\n')}`);
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    console.error(`test-summary: no report in ${file} (the run crashed?)`);
    failed += 1;
    continue;
  }
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  if ((report.numFailedTestSuites ?? 0) > 0 && (report.numFailedTests ?? 0) === 0)
    failed += report.numFailedTestSuites;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);

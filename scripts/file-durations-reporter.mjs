// A vitest reporter that writes how long each test file took, hooks included, to the file named by
// XENKIT_FILE_DURATIONS (JSON: [{ file, seconds, state }]); the JSON reporter's per-file times count
// the tests only, not a beforeAll that builds a guest. scripts/test-summary.mjs prints the slowest.
import { writeFileSync } from 'node:fs';

export default class FileDurationsReporter {
  onTestRunEnd(testModules) {
    const out = process.env.XENKIT_FILE_DURATIONS;
    if (!out) return;
    const files = testModules.map((m) => {
      const d = m.diagnostic();
      const ms = d.prepareDuration + d.collectDuration + d.setupDuration + d.duration;
      return { file: m.moduleId, seconds: ms / 1000, state: m.state() };
    });
    writeFileSync(out, `${JSON.stringify(files, null, 1)}\n`);
  }
}

#!/usr/bin/env bash
# The whole test suite: build, type-check, lint, then the three vitest projects one after the other
# (unit, root, vm: the real-tool and VM tests would starve each other on a small machine; within the
# vm project two files run at a time, see vitest.config.ts), then each project's 10 slowest files
# and a closing line "N passed, N failed, N skipped" over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run build && npm run typecheck && npm run lint || exit 1
out=.test-results
rm -rf "$out" && mkdir -p "$out"
status=0
for project in unit root vm; do
  start=$(date +%s)
  XENKIT_FILE_DURATIONS="$out/$project.durations" npx vitest run --project "$project" --reporter=default \
    --reporter=json --outputFile="$out/$project.json" --reporter=./scripts/file-durations-reporter.mjs || status=1
  echo "vitest project $project took $(( $(date +%s) - start )) s"
done
node scripts/test-summary.mjs "$out"/*.json || status=1
exit $status

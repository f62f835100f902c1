#!/usr/bin/env node
// CommonJS (bin/package.json), like the listing commands; the CLI itself is an ES module bundle.
import('../dist/bundle/cli.mjs')
  .then((cli) => cli.xenkit(process.argv.slice(2)))
  .then((status) => {
    process.exitCode = status;
  });

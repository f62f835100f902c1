#!/usr/bin/env node
// `xm list` loads the listing bundle only (the whole CLI's compile would be most of its time), with
// V8's code cache (src/cli/bin/list-loader.ts) and without node's ES module loader (this file and
// the loader are CommonJS); every other verb, and a list command line that bundle leaves to
// commander, loads the whole CLI. A listing runs without V8's optimizing compiler (--max-opt=1, as
// bin/xen-list-images.js explains); a list command line the bundle leaves to commander then runs
// the whole CLI without it too (as short-lived a command).
const argv = process.argv.slice(2);
const whole = () => import('../dist/bundle/cli.mjs').then((cli) => cli.xm(argv));
let run;
if (argv[0] === 'list') {
  require('node:v8').setFlagsFromString('--max-opt=1');
  const listing = require('../dist/bundle/list-loader.cjs').loadListing('xm');
  run = listing.entry.xmList(argv.slice(1)).then((listed) => {
    if (listed === undefined) return whole();
    listing.saveCache();
    return listed;
  });
} else {
  run = whole();
}
run.then((status) => {
  process.exitCode = status;
});

#!/usr/bin/env node
// The listing bundle, compiled with V8's code cache (see src/cli/bin/list-loader.ts). CommonJS
// (bin/package.json) with the loader bundled as CommonJS: a listing starts without node's ES
// module loader, which cost it more than anything it lists per guest. V8's optimizing compiler is
// kept out (--max-opt=1, set before the bundle is compiled): a listing is over before the code it
// would optimize pays back the compile (a third of the instructions of 1000 guests' listing).
require('node:v8').setFlagsFromString('--max-opt=1');
const listing = require('../dist/bundle/list-loader.cjs').loadListing('xen-list-images');
listing.entry.xenListImages(process.argv.slice(2)).then((status) => {
  process.exitCode = status;
  listing.saveCache();
});

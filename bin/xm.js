#!/usr/bin/env node
// `xm list` loads the listing bundle only (the whole CLI's compile would be most of its time), with
// V8's code cache (src/cli/bin/list-loader.ts); every other verb, and a list command line that
// bundle leaves to commander, loads the whole CLI.
const argv = process.argv.slice(2);
let listed;
if (argv[0] === 'list') {
  const listing = (await import('../dist/cli/bin/list-loader.js')).loadListing('xm');
  listed = await listing.entry.xmList(argv.slice(1));
  if (listed !== undefined) listing.saveCache();
}
process.exitCode = listed ?? (await (await import('../dist/bundle/cli.mjs')).xm(argv));

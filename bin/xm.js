#!/usr/bin/env node
// `xm list` loads the listing bundle only (the whole CLI's compile would be most of its time);
// every other verb, and a list command line that bundle leaves to commander, loads the whole CLI.
const argv = process.argv.slice(2);
const listed =
  argv[0] === 'list' ? await (await import('../dist/bundle/list.mjs')).xmList(argv.slice(1)) : undefined;
process.exitCode = listed ?? (await (await import('../dist/bundle/cli.mjs')).xm(argv));

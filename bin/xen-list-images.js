#!/usr/bin/env node
// The listing bundle, compiled with V8's code cache (see src/cli/bin/list-loader.ts).
import { loadListing } from '../dist/cli/bin/list-loader.js';

const listing = loadListing('xen-list-images');
process.exitCode = await listing.entry.xenListImages(process.argv.slice(2));
listing.saveCache();

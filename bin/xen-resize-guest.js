#!/usr/bin/env node
import { xenResizeGuest as main } from '../dist/bundle/cli.mjs';

process.exitCode = await main(process.argv.slice(2));

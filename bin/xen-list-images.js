#!/usr/bin/env node
import { xenListImages as main } from '../dist/bundle/cli.mjs';

process.exitCode = await main(process.argv.slice(2));

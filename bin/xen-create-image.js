#!/usr/bin/env node
import { xenCreateImage as main } from '../dist/bundle/cli.mjs';

process.exitCode = await main(process.argv.slice(2));

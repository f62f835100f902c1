#!/usr/bin/env node
import { main } from '../dist/cli/bin/xenkit.js';

process.exitCode = await main(process.argv.slice(2));

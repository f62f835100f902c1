#!/usr/bin/env node
import { main } from '../dist/cli/bin/xen-update-image.js';

process.exitCode = await main(process.argv.slice(2));

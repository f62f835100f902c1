#!/usr/bin/env node
import { main } from '../dist/cli/bin/xen-create-image.js';

process.exitCode = await main(process.argv.slice(2));

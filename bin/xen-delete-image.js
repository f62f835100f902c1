#!/usr/bin/env node
import { main } from '../dist/cli/bin/xen-delete-image.js';

process.exitCode = await main(process.argv.slice(2));

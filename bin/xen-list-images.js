#!/usr/bin/env node
import { xenListImages as main } from '../dist/bundle/list.mjs';

process.exitCode = await main(process.argv.slice(2));

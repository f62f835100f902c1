#!/usr/bin/env node
import { xenUpdateImage as main } from '../dist/bundle/cli.mjs';

process.exitCode = await main(process.argv.slice(2));

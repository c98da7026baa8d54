#!/usr/bin/env node
// Thin shim: the CLI lives in the compiled output so `npm ci` (which runs `prepare`) is enough.
import { logProcessWarnings } from '../dist/log.js';
import { main } from '../dist/cli/main.js';

logProcessWarnings();
process.exitCode = await main(process.argv);

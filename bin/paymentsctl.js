#!/usr/bin/env node
// Thin shim: the CLI lives in the compiled output so `npm ci` (which runs `prepare`) is enough.
import { logProcessWarnings } from '../dist/log.js';
import { main } from '../dist/cli/main.js';

logProcessWarnings();
// `paymentsctl … | head` closes the pipe early: that is the reader being done, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.exitCode = await main(process.argv);

#!/usr/bin/env node
// The `postern` bin. Kept to the bare minimum so that runCli can be imported and tested.
import { processContext, runCli } from './run-cli.js';

process.exitCode = await runCli(process.argv.slice(2), processContext());

#!/usr/bin/env node
// The published entry point: runs the TypeScript sources through tsx's loader (no build step).
import { register } from 'tsx/esm/api';
register();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));

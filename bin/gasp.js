#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so the command and the tests always run the same code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));

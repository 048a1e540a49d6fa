#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so the command and the tests always run the same code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const args = process.argv.slice(2);
// `npm start` alone runs the whole chain on the embedded database; `npm start -- ARGS` is `gasp ARGS`
const startedByNpm = process.env.npm_lifecycle_event === 'start';
process.exitCode = await main(args.length === 0 && startedByNpm ? ['demo'] : args);

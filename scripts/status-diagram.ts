// Redraws the README's pass-status diagram from src/passes/rules.ts: node --import tsx scripts/status-diagram.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { withDiagram } from '../src/passes/diagram.js';

const file = new URL('../README.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = withDiagram(before);
writeFileSync(file, after);
process.stdout.write(
  after === before ? 'README.md: the status diagram is current\n' : 'README.md: status diagram redrawn\n',
);

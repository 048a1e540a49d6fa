import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  clientImports,
  importCycles,
  layerViolations,
  parseTree,
  readSources,
  type Layer,
} from './support/architecture.js';
import {
  longFunctions,
  passShapeOf,
  passStatusWrites,
  type Allowed,
  type PassShape,
} from './support/architecture-code.js';

/**
 * The layers of src/, low to high. A file imports from its own layer or a lower one, never from a
 * higher one; folders of one layer may import each other while they make no cycle. Issue 19 orders
 * model → db → passes → backends / queue → client / submit / shifter / coordination → cli; the other
 * folders sit where they serve (DESIGN.md "Dependencies flow one way").
 */
const LAYERS: readonly Layer[] = [
  // document types, ids, statuses: data only, it imports nothing else of gasp
  { name: 'model', units: ['model'] },
  // the small helpers at the top of src/ (errors, files, log, paths, processes, words …): no domain
  { name: 'helpers', units: ['*.ts'] },
  // what people write: config and site files, and the JSON reader that names their fields the same way
  { name: 'input', units: ['config', 'sites', 'json-file.ts'] },
  // the database: the only code that talks to CouchDB, and the embedded server
  { name: 'db', units: ['db', 'server'] },
  // the pass lifecycle: pure transitions and the one store of passes
  { name: 'passes', units: ['passes'] },
  // what the loop and the tools use: scheduling, backends, storage, production information
  { name: 'services', units: ['backends', 'queue', 'storage', 'production'] },
  // the enqueue loop and the tools, each a thing a command calls
  {
    name: 'features',
    units: [
      'client',
      'submit',
      'shifter',
      'coordination',
      'processing',
      'grab',
      'timing',
      'dashboard',
      'doctor',
      'notify',
    ],
  },
  // one file per command: parse, call, print
  { name: 'cli', units: ['cli'] },
];

const MAX_FUNCTION_LINES = 80;

/** Where a pass status may still be written outside passes/ and model/, and why. */
const PASS_STATUS_WRITERS: readonly Allowed[] = [
  {
    file: 'submit/write.ts',
    function: 'makePass',
    why: 'a new pass from a request starts waiting: made, not moved',
  },
  {
    file: 'processing/process.ts',
    function: 'makePass',
    why: 'a new processing pass starts waiting: made, not moved',
  },
  {
    file: 'processing/late-subfiles.ts',
    function: 'makeLatePass',
    why: 'a new pass of late raw subfiles starts waiting: made, not moved',
  },
  {
    file: 'processing/from-production.ts',
    function: 'makePass',
    why: 'a new pass over production output starts waiting: made, not moved',
  },
];

/** Passes the test when there are none; otherwise fails with every violation, one a line. */
function expectNone(violations: readonly string[], what: string): void {
  const list = violations.map((violation) => `\n  ${violation}`).join('');
  expect(violations.length === 0 ? 'none' : `${violations.length} ${what}:${list}`).toBe('none');
}

const tree = (files: Record<string, string>) => parseTree(new Map(Object.entries(files)));

describe('the architecture of src/', () => {
  const src = parseTree(readSources(fileURLToPath(new URL('../src', import.meta.url))));

  it('reads every file of src/ and the imports between them', () => {
    expect(src.files.size).toBeGreaterThan(100);
    expect(src.imports.length).toBeGreaterThan(300);
  });

  it('the import graph of src/ has no cycles', () => {
    expectNone(importCycles(src), 'import cycles (file:line of the import of the next)');
  });

  it('no file imports from a higher layer, and folders of one layer import each other without a cycle', () => {
    expectNone(layerViolations(src, LAYERS), 'layer violations');
  });

  it('only src/client/ itself and src/cli/ import from src/client/', () => {
    expectNone(clientImports(src), 'imports of src/client/ from outside it');
  });

  it(`no function in src/ is longer than ${MAX_FUNCTION_LINES} lines`, () => {
    expectNone(longFunctions(src, MAX_FUNCTION_LINES), 'functions too long');
  });

  it('no pass status is written outside src/passes/ (and src/model/)', () => {
    const shape = passShapeOf(src);
    if (typeof shape === 'string') expect.fail(shape);
    expectNone(passStatusWrites(src, shape, PASS_STATUS_WRITERS), 'pass status writes outside src/passes/');
  });
});

describe('the import checks', () => {
  it('find a cycle and name each file with the line of its import', () => {
    const cyclic = tree({
      'a/x.ts': "import { y } from './y.js';\nexport const x = y;",
      'a/y.ts': "\nimport type { Z } from '../b/z.js';\nexport const y = 1;",
      'b/z.ts': "import { x } from '../a/x.js';\nexport type Z = typeof x;",
      'c/lone.ts': "import { y } from '../a/y.js';\nexport const lone = y;",
    });
    expect(importCycles(cyclic)).toEqual(['src/a/x.ts:1 → src/a/y.ts:2 (type) → src/b/z.ts:1 → src/a/x.ts']);
    expect(importCycles(tree({ 'a/x.ts': "import { y } from './y.js';", 'a/y.ts': 'export const y = 1;' }))).toEqual(
      [],
    );
  });

  it('follow export-from and dynamic imports, and not packages', () => {
    const cyclic = tree({
      'a/x.ts': "export { y } from './y.js';\nimport 'node:fs';",
      'a/y.ts': "export const y = () => import('./x.js');",
    });
    expect(importCycles(cyclic)).toEqual(['src/a/x.ts:1 → src/a/y.ts:1 → src/a/x.ts']);
  });

  const layers: Layer[] = [
    { name: 'low', units: ['model', '*.ts'] },
    { name: 'mid', units: ['client', 'shifter', 'submit'] },
    { name: 'top', units: ['cli'] },
  ];

  it('reject an import from a higher layer, a cycle between folders of one layer, and a folder in no layer', () => {
    const bad = tree({
      'model/pass.ts': "import { run } from '../cli/main.js';",
      'cli/main.ts': 'export const run = 1;',
      'shifter/a.ts': "import { b } from '../submit/b.js';\nexport const a = 1;",
      'submit/b.ts': "export const b = 1;\nimport { a } from '../shifter/a.js';",
      'extra/c.ts': 'export const c = 1;',
    });
    expect(layerViolations(bad, layers)).toEqual([
      'src/extra/ is in no layer: add it to the layer table',
      'src/model/pass.ts:1 imports src/cli/main.ts: low (layer 0) may not import top (layer 2)',
      'same-layer cycle between folders: shifter → submit (src/shifter/a.ts:1 imports src/submit/b.ts), ' +
        'submit → shifter (src/submit/b.ts:2 imports src/shifter/a.ts)',
    ]);
  });

  it('accept imports downwards and between folders of one layer in one direction', () => {
    const good = tree({
      'cli/main.ts': "import { a } from '../shifter/a.js';\nimport { log } from '../log.js';",
      'shifter/a.ts': "import { b } from '../submit/b.js';\nexport const a = b;",
      'submit/b.ts': "import { log } from '../log.js';\nexport const b = log;",
      'log.ts': 'export const log = 1;',
    });
    expect(layerViolations(good, layers)).toEqual([]);
  });

  it('reject an import of client/ from outside it, but not from cli/ or within client/', () => {
    const files = tree({
      'client/cycle.ts': "import { claim } from './claim.js';",
      'client/claim.ts': 'export const claim = 1;',
      'cli/enqueue.ts': "import { claim } from '../client/claim.js';",
      'shifter/retry.ts': "\nimport type { claim } from '../client/claim.js';",
    });
    expect(clientImports(files)).toEqual(['src/shifter/retry.ts:2 imports src/client/claim.ts']);
  });
});

describe('the function length check', () => {
  const body = (lines: number) => Array.from({ length: lines - 2 }, (_, at) => `  const v${at} = ${at};`).join('\n');

  it('rejects a function, an arrow function and a method over the limit, with file, line, name and length', () => {
    const files = tree({
      'a/long.ts': [
        `export function gather() {\n${body(81)}\n}`,
        `export const decide = () => {\n${body(82)}\n};`,
        `class Store {\n  write() {\n${body(81)}\n  }\n}`,
        `run(() => {\n${body(81)}\n});`,
      ].join('\n'),
    });
    expect(longFunctions(files, 80)).toEqual([
      'src/a/long.ts:1 gather: 81 lines (max 80)',
      'src/a/long.ts:82 decide: 82 lines (max 80)',
      'src/a/long.ts:165 Store.write: 81 lines (max 80)',
      'src/a/long.ts:247 callback of run(): 81 lines (max 80)',
    ]);
  });

  it('names a long callback after the function it is in', () => {
    const files = tree({
      'cli/submit.ts': `export function registerSubmit(program: C) {\n  program.action(() => {\n${body(81)}\n  });\n}`,
    });
    expect(longFunctions(files, 80)).toEqual([
      'src/cli/submit.ts:1 registerSubmit: 83 lines (max 80)',
      'src/cli/submit.ts:2 registerSubmit › callback of action(): 81 lines (max 80)',
    ]);
  });

  it('accepts functions of exactly the limit', () => {
    const files = tree({ 'a/short.ts': `export function write() {\n${body(80)}\n}\nconst f = function () {\n}` });
    expect(longFunctions(files, 80)).toEqual([]);
  });
});

describe('the pass status check', () => {
  const shape: PassShape = {
    statuses: ['waiting', 'submitted', 'completed', 'failed', 'canceled'],
    passKeys: ['pass', 'status', 'site', 'claim', 'attempts', 'subjobs', 'label'],
    attemptKeys: ['site', 'status', 'started', 'finished', 'token', 'reason'],
  };

  it('rejects a status literal, a choice or a name set on a pass outside passes/, and a status set in place', () => {
    const files = tree({
      'shifter/cancel.ts': "export const cancel = (stored: P) => ({ ...stored, 'status': 'canceled' });",
      'client/monitor.ts': [
        'export function finish(stored: P, good: boolean) {',
        "  const status = good ? 'completed' : 'failed';",
        '  return { ...stored, status, subjobs: [] };',
        '}',
        "const claim = (pass: P) => ({ ...pass, status: ok ? 'submitted' : pass.status, site: 's' });",
        "function lose(pass: P) { pass.status = 'waiting'; }",
      ].join('\n'),
      'submit/like.ts': "export const copy = (number: number) => ({ pass: number, status: 'waiting', attempts: [] });",
    });
    expect(passStatusWrites(files, shape, [])).toEqual([
      'src/client/monitor.ts:3 status: status on a pass, in finish',
      "src/client/monitor.ts:5 status: ok ? 'submitted' : pass.status on a pass, in claim",
      "src/client/monitor.ts:6 .status = 'waiting' on a pass, in lose",
      "src/shifter/cancel.ts:1 status: 'canceled' on a pass, in cancel",
      "src/submit/like.ts:1 status: 'waiting' on a pass, in copy",
    ]);
  });

  it('accepts attempts, rows, types, destructuring, copies, queries, the allowed places and passes/ itself', () => {
    const files = tree({
      'client/monitor.ts': [
        "const ended = { ...attempt, status: 'failed', finished: now, reason: 'lost' };",
        "const added = withAttempt(pass, { site: 's', status: 'submitted', started: now, token });",
        'const row = { module: doc.module, run: doc.run, pass: pass.pass, status: pass.status };',
        "type Timing = { status: 'completed' | 'failed' };",
        'const { status: _status, ...rest } = stored;',
        'const kept = { ...stored, status: stored.status };',
        "const query = { selector: { status: 'waiting', site: 's' } };",
        "const old = { ...subjob, state: 'failed' };",
      ].join('\n'),
      'passes/transitions.ts': "export const retry = (pass: P) => ({ ...pass, status: 'waiting' });",
      'model/status.ts': "export const start = { pass: 1, status: 'waiting', attempts: [] };",
      'submit/write.ts': "const makePass = (number: number) => ({ pass: number, status: 'waiting', attempts: [] });",
    });
    const allowed = [{ file: 'submit/write.ts', function: 'makePass', why: 'a new pass' }];
    expect(passStatusWrites(files, shape, allowed)).toEqual([]);
  });

  it('names an allowed place that writes no pass status any more', () => {
    const allowed = [{ file: 'submit/write.ts', function: 'makePass', why: 'a new pass' }];
    expect(passStatusWrites(tree({ 'submit/write.ts': 'export const x = 1;' }), shape, allowed)).toEqual([
      'allowed src/submit/write.ts makePass writes no pass status any more: remove it from the list',
    ]);
  });

  it('reads the statuses and the keys of Pass and Attempt from the model', () => {
    const model = tree({
      'model/status.ts': "export const PASS_STATUSES = ['waiting', 'failed'] as const;",
      'model/documents.ts':
        'export interface Attempt { site: string; finished?: string }\n' +
        'export interface Pass { pass: number; attempts: Attempt[] }',
    });
    expect(passShapeOf(model)).toEqual({
      statuses: ['waiting', 'failed'],
      passKeys: ['pass', 'attempts'],
      attemptKeys: ['site', 'finished'],
    });
    expect(passShapeOf(tree({ 'model/status.ts': 'export const x = 1;' }))).toMatch(/declares no/);
  });
});

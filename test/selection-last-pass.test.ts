import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import type { JobDoc, Pass } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { selectPasses, type Selection } from '../src/shifter/selection.js';
import { useTestDatabase } from './support/couch.js';

const test = useTestDatabase('last-pass');

const pass = (number: number, label: string, more: Partial<Pass> = {}): Pass => ({
  pass: number,
  status: 'completed',
  rat_version: '7.0.8',
  label,
  priority: 0,
  created: `2026-11-0${number}T00:00:00.000Z`,
  attempts: [],
  ...more,
});

const job = (module: string, run: number, passes: Pass[]): JobDoc => ({
  _id: `job:${module}:${run}`,
  type: 'job',
  module,
  run,
  passes,
});

beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  await test.db.bulkDocs([
    // the same job redone under a new label, and redone again under the first
    job('Bi214', 1, [pass(1, 'v1'), pass(2, 'v2')]),
    job('Bi214', 2, [pass(1, 'v1'), pass(2, 'v2'), pass(3, 'v1')]),
    // reprocessing of two different source passes, then a redo of the first source
    job('Processing', 1, [
      pass(1, 'mc-Processing', { request: 'reprocess:7.0.8', prerequisites: [{ module: 'Bi214', run: 1, pass: 1 }] }),
      pass(2, 'mc-Processing', { request: 'reprocess:7.0.8', prerequisites: [{ module: 'Tl208', run: 1, pass: 1 }] }),
      pass(3, 'mc-Processing', { request: 'reprocess:7.1.0', prerequisites: [{ module: 'Bi214', run: 1, pass: 1 }] }),
    ]),
    // a run processed, then a pass of the subfiles that came late
    job('Raw', 100151, [
      pass(1, 'proc', { request: 'process:7.0.8', level: 'sub_run' }),
      pass(2, 'proc', { request: 'process:7.0.8', level: 'sub_run', late_of: 1 }),
    ]),
    // the same, then the whole run processed again: the new pass hides both
    job('Raw', 100152, [
      pass(1, 'proc', { request: 'process:7.0.8', level: 'sub_run' }),
      pass(2, 'proc', { request: 'process:7.0.8', level: 'sub_run', late_of: 1 }),
      pass(3, 'proc', { request: 'process:7.1.0', level: 'sub_run' }),
    ]),
  ]);
});

const selected = async (selection: Omit<Selection, 'statuses' | 'pass'>) =>
  (await selectPasses(test.db, { ...selection, pass: 'last', statuses: ['completed'] }))
    .map(({ doc, pass }) => `${doc.module} ${doc.run} p${pass.pass}`)
    .sort();

describe('the last pass of a job, as the shifter tools and grab select it', () => {
  it('is the newest pass of the label asked for: a newer pass of another label hides nothing', async () => {
    expect(await selected({ label: 'v1' })).toEqual(['Bi214 1 p1', 'Bi214 2 p3']);
    expect(await selected({ label: 'v2' })).toEqual(['Bi214 1 p2', 'Bi214 2 p2']);
    expect(await selected({ module: 'Bi214' })).toEqual(['Bi214 1 p2', 'Bi214 2 p3']);
  });

  it('counts each source job of a reprocessing, and a pass of late subfiles while the pass it adds to is last, as work of its own', async () => {
    expect(await selected({ label: 'mc-Processing' })).toEqual(['Processing 1 p2', 'Processing 1 p3']);
    expect(await selected({ label: 'proc' })).toEqual(['Raw 100151 p1', 'Raw 100151 p2', 'Raw 100152 p3']);
  });
});

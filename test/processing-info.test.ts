import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { InputError } from '../src/errors.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { loadProcessingInfo } from '../src/production/processing-info.js';
import { runGasp } from './support/cli.js';
import { couchEnv, useTestDatabase } from './support/couch.js';
import { FIXTURE_RELEASE } from './support/fixture.js';

const test = useTestDatabase('processing');
beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
});

const EXAMPLE = join(FIXTURE_RELEASE, 'processing_information_7_0_8.json');
const example = () =>
  JSON.parse(readFileSync(EXAMPLE, 'utf8')) as {
    modules: Record<string, Record<string, unknown>>;
    run_types: Record<string, string[]>;
  } & Record<string, unknown>;

function problemsWith(change: (info: ReturnType<typeof example>) => void): string[] {
  const info = example();
  change(info);
  const file = join(mkdtempSync(join(tmpdir(), 'gasp-processing-')), 'processing_information_7_0_8.json');
  writeFileSync(file, JSON.stringify(info));
  try {
    loadProcessingInfo(file);
  } catch (error) {
    if (error instanceof InputError) return error.problems.map((line) => line.replace(file, 'FILE'));
    throw error;
  }
  return [];
}

describe('processing information', () => {
  it('accepts the example shipped for the fixture release', () => {
    const doc = loadProcessingInfo(EXAMPLE);
    expect(doc._id).toBe('processing_information_7_0_8');
    expect(doc.modules.Analysis).toEqual({
      level: 'run_root',
      path: 'mac/processing/analysis.mac',
      outputs: ['ntuple'],
      prerequisites: ['Processing'],
      raw_processor: false,
    });
    expect(doc.run_types.Physics).toEqual(['Processing', 'Analysis', 'Monitoring']);
  });

  it.each([
    [
      'an unknown level',
      (info: ReturnType<typeof example>) => void (info.modules.Analysis!.level = 'subrun'),
      'FILE: modules.Analysis.level: "subrun" is not allowed (expected sub_run | run | run_zdab | run_root)',
    ],
    [
      'a missing path',
      (info: ReturnType<typeof example>) => void delete info.modules.Monitoring!.path,
      'FILE: modules.Monitoring.path: is missing (expected the macro path, relative to the release)',
    ],
    [
      'a prerequisite that is no module',
      (info: ReturnType<typeof example>) => void (info.modules.Analysis!.prerequisites = ['Procesing']),
      'FILE: modules.Analysis.prerequisites: "Procesing" is not a module (expected one of Processing, Analysis, CalibrationN16, Monitoring)',
    ],
    [
      'a cycle',
      (info: ReturnType<typeof example>) => void (info.modules.Processing!.prerequisites = ['Analysis']),
      'FILE: modules.Processing.prerequisites: a cycle Processing → Analysis → Processing (expected prerequisites that end)',
    ],
    [
      'a run type naming no module',
      (info: ReturnType<typeof example>) => void info.run_types.Physics!.push('Reconstruction'),
      'FILE: run_types.Physics: "Reconstruction" is not a module (expected one of Processing, Analysis, CalibrationN16, Monitoring)',
    ],
    [
      'a version unlike the file name',
      (info: ReturnType<typeof example>) => void (info.rat_version = '7.0.9'),
      'FILE: rat_version: "7.0.9" does not match the file name (expected 7.0.8)',
    ],
    [
      'an unknown key',
      (info: ReturnType<typeof example>) => void (info.modules.Analysis!.colour = 'red'),
      'FILE: modules.Analysis.colour: unknown key (expected level, path, outputs, prerequisites, raw_processor)',
    ],
  ])('refuses %s in one line naming where', (_name, change, expected) => {
    expect(problemsWith(change)).toEqual([expected]);
  });

  it('refuses a module given twice, which JSON.parse would merge without a word', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-processing-')), 'processing_information_7_0_8.json');
    writeFileSync(file, readFileSync(EXAMPLE, 'utf8').replace('"Analysis": {', '"Processing": {'));
    expect(() => loadProcessingInfo(file)).toThrow(
      `${file}:11:5: "Processing" appears twice in one object (expected each key once)`,
    );
  });

  it("does not take an object's built-in names for modules", () => {
    expect(problemsWith((info) => void (info.modules.Analysis!.prerequisites = ['constructor']))).toEqual([
      'FILE: modules.Analysis.prerequisites: "constructor" is not a module (expected one of Processing, Analysis, CalibrationN16, Monitoring)',
    ]);
  });

  it('reports every problem at once', () => {
    const problems = problemsWith((info) => {
      info.modules.Analysis!.prerequisites = ['Nothing'];
      info.run_types.Deployment = ['Nobody'];
    });
    expect(problems).toHaveLength(2);
  });

  it('uploads idempotently and reads back with list and show', async () => {
    const env = couchEnv(test.db.name);
    const check = await runGasp(['processing-info', 'check', EXAMPLE]);
    expect(check.stdout.trim()).toBe(`${EXAMPLE}: OK: RAT 7.0.8, 4 modules, 3 run types`);
    const first = await runGasp(['processing-info', 'upload', EXAMPLE], { env });
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split('\n')[0]).toBe(`${test.db.name} processing_information_7_0_8: created`);
    const second = await runGasp(['processing-info', 'upload', EXAMPLE], { env });
    expect(second.stdout.trim()).toBe(`${test.db.name} processing_information_7_0_8: unchanged`);
    const list = await runGasp(['processing-info', 'list'], { env });
    expect(list.stdout.trim()).toBe('7.0.8  4 modules  (processing_information_7_0_8)');
    const show = await runGasp(['processing-info', 'show', '7.0.8', '--module', 'Nope'], { env });
    expect(show.code).toBe(2);
    expect(show.stderr.trim()).toBe(
      '--module: "Nope" is not in the processing information for RAT 7.0.8 (expected one of Processing, Analysis, CalibrationN16, Monitoring)',
    );
  });
});

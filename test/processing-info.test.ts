import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { InputError } from '../src/errors.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { unhandledOutputs } from '../src/production/ganga-outputs.js';
import { loadProcessingInfo } from '../src/production/processing-info.js';
import { gaspOn, runGasp } from './support/cli.js';
import { folderWith, problemsOf } from './support/files.js';
import type { ProcessingInfoDoc } from '../src/model/documents.js';
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
      'FILE: modules.Analysis.colour: unknown key (expected type, level, path, outputs, other_suffix, ganga_outputs, prerequisites, raw_processor, nhit_cut)',
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
    expect(check.stdout.trim().split('\n')).toEqual([
      `${EXAMPLE}: OK: RAT 7.0.8, 4 modules, 3 run types`,
      '  Processing: macro mac/processing/processing.mac, sub_run → ratds; reads raw data',
      '  Analysis: macro mac/processing/analysis.mac, run_root → ntuple; needs Processing',
      '  CalibrationN16: macro mac/processing/calibration_n16.mac, run → ratds, ntuple; needs Processing',
      '  Monitoring: macro mac/processing/monitoring.mac, run_zdab → soc; reads raw data',
    ]);
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

describe('processing information as SNO+ writes it (processing_information_x_y_z.py)', () => {
  // the SNO+ manual's example, curly quotes and all, as its "Generating info files" page shows it
  const MANUAL = join(dirname(FIXTURE_RELEASE), 'processing_information_6_0_1.py');
  const PGSQL = (pattern: string) => ({
    call: 'PGSQLFile',
    args: {
      namePattern: pattern,
      dbServer: 'postgres://pgsql.snopl.us:5400',
      dbName: 'ratdbtest',
      passDefault: -1,
      version: 1,
    },
  });
  const notHandled = (pattern: string, index: number) =>
    `${MANUAL}: not handled: DQCSS: ganga_outputs[${index}]: PGSQLFile posts ${pattern} files to the PostgreSQL database ratdbtest at postgres://pgsql.snopl.us:5400, which gasp does not do; gasp keeps it in the processing information, and the files it names stay in the job's folder, neither posted nor staged`;

  it("checks the manual's example and names each output gasp does not handle", async () => {
    const check = await runGasp(['processing-info', 'check', MANUAL]);
    expect(check.code).toBe(0);
    expect(check.stdout.trim().split('\n')).toEqual([
      `${MANUAL}: OK: RAT 6.0.1, 2 modules, 6 run types`,
      '  Processing: macro mac/processing/partial_water/processing.mac, sub_run → ratds; reads raw data',
      '  DQCSS: macro mac/processing/partial_water/runLevelProcessing.mac, run → no outputs; needs Processing',
      '    ganga output PGSQLFile(namePattern = "CSS_RESULT_*.ratdb", dbServer = "postgres://pgsql.snopl.us:5400", dbName = "ratdbtest", passDefault = -1, version = 1)',
      '    ganga output PGSQLFile(namePattern = "DATAQUALITY_RECORDS*.ratdb", dbServer = "postgres://pgsql.snopl.us:5400", dbName = "ratdbtest", passDefault = -1, version = 1)',
      notHandled('CSS_RESULT_*.ratdb', 0),
      notHandled('DATAQUALITY_RECORDS*.ratdb', 1),
    ]);
  });

  it('uploads it: the document holds its modules, run types and ganga outputs', async () => {
    const upload = await gaspOn(test.db, ['processing-info', 'upload', MANUAL]);
    expect(upload.code).toBe(0);
    expect(upload.stdout.trim().split('\n')).toContain(`${test.db.name} processing_information_6_0_1: created`);
    expect(upload.stdout.trim().split('\n').slice(-2)).toEqual([
      notHandled('CSS_RESULT_*.ratdb', 0),
      notHandled('DATAQUALITY_RECORDS*.ratdb', 1),
    ]);
    const doc = await test.db.get<ProcessingInfoDoc>('processing_information_6_0_1');
    expect(doc.rat_version).toBe('6.0.1');
    expect(doc.modules.DQCSS).toEqual({
      type: 'macro',
      level: 'run',
      path: 'mac/processing/partial_water/runLevelProcessing.mac',
      ganga_outputs: [PGSQL('CSS_RESULT_*.ratdb'), PGSQL('DATAQUALITY_RECORDS*.ratdb')],
      outputs: [],
      prerequisites: ['Processing'],
      raw_processor: false,
    });
    expect(doc.modules.Processing).toMatchObject({ level: 'sub_run', raw_processor: true, ganga_outputs: [] });
    expect(doc.run_types).toEqual(
      Object.fromEntries(
        ['Physics', 'DeployedSource', 'ExternalSource', 'TELLIE', 'SMELLIE', 'AMELLIE'].map((type) => [
          type,
          ['Processing', 'DQCSS'],
        ]),
      ),
    );
    const again = await gaspOn(test.db, ['processing-info', 'upload', MANUAL]);
    expect(again.stdout.trim().split('\n')[0]).toBe(`${test.db.name} processing_information_6_0_1: unchanged`);
  });

  it('refuses a broken copy with every problem on its line, exit 2, and writes nothing', async () => {
    const broken = readFileSync(MANUAL, 'utf8')
      .replace('“ganga_outputs”: [],\n', '“ganga_outputs”: []\n') // a comma missing (line 6)
      .replace('“level”: “run”,', '“level”: “runlevel”,') // a bad level (line 11)
      .replace('“prerequisites”: [“Processing”]', '“prerequisites”: [“Procesing”]') // no such module (line 24)
      .replace('“raw_processor”: False}}', '“raw_processor”: False, “colour”: “red”}}') // an unknown key (line 25)
      .replace('“AMELLIE”: set([“Processing”, “DQCSS”])', '“AMELLIE”: set([“Processing”, “DQCSS”)'); // unclosed (line 34)
    const file = join(folderWith({ 'processing_information_6_0_2.py': broken }), 'processing_information_6_0_2.py');
    const modules = 'processing_modules.DQCSS';
    const expected = [
      `${file}:6:59: a comma is missing (expected , between items)`,
      `${file}:11: ${modules}.level: "runlevel" is not allowed (expected sub_run | run | run_zdab | run_root)`,
      `${file}:24: ${modules}.prerequisites: "Procesing" is not a module (expected one of Processing, DQCSS)`,
      `${file}:25: ${modules}.colour: unknown key (expected type, level, path, outputs, other_suffix, ganga_outputs, prerequisites, raw_processor, nhit_cut)`,
      `${file}:34:20: this [ is never closed (expected ])`,
    ];
    const check = await runGasp(['processing-info', 'check', file]);
    expect(check.code).toBe(2);
    expect(check.stderr.trim().split('\n')).toEqual(expected);
    const upload = await gaspOn(test.db, ['processing-info', 'upload', file]);
    expect(upload.code).toBe(2);
    expect(upload.stderr.trim().split('\n')).toEqual(expected);
    expect(await test.db.find('processing_information_6_0_2')).toBeUndefined();
  });

  it('names the GangaSNOplus outputs whose handling is not public as not handled, one line each', () => {
    const module = { level: 'run' as const, path: 'a.mac', outputs: [], prerequisites: [], raw_processor: false };
    expect(
      unhandledOutputs({
        modules: {
          Tables: {
            ...module,
            ganga_outputs: [
              { call: 'RATDBFile', args: { namePattern: 'TABLE_*.ratdb' } },
              { call: 'GridFile', args: {} },
            ],
          },
          Plain: module,
        },
      }),
    ).toEqual([
      "Tables: ganga_outputs[0]: RATDBFile (TABLE_*.ratdb files) is handled by GangaSNOplus in a way gasp does not know and does not do; gasp keeps it in the processing information, and the files it names stay in the job's folder, neither posted nor staged",
      "Tables: ganga_outputs[1]: GridFile (its files) is handled by GangaSNOplus in a way gasp does not know and does not do; gasp keeps it in the processing information, and the files it names stay in the job's folder, neither posted nor staged",
    ]);
  });

  it('takes type, other_suffix and nhit_cut, and names a wrong type or a file name without a version', () => {
    const module = (fields: string) =>
      `processing_modules = {"Fit": {"level": "run", "path": "fit.sh", "outputs": ["other_ntuple"], ${fields}}}\nmodules_for_run_type = {"Physics": set(["Fit"])}\n`;
    const file = join(
      folderWith({
        'processing_information_7_1_0.py': module('"type": "script", "other_suffix": "_fit", "nhit_cut": 15'),
      }),
      'processing_information_7_1_0.py',
    );
    expect(loadProcessingInfo(file).modules.Fit).toEqual({
      type: 'script',
      level: 'run',
      path: 'fit.sh',
      outputs: ['other_ntuple'],
      other_suffix: '_fit',
      prerequisites: [],
      raw_processor: false,
      nhit_cut: 15,
    });
    expect(
      problemsOf(loadProcessingInfo, 'processing_information_7_1_0.py', module('"type": "bash", "nhit_cut": "15"')),
    ).toEqual([
      'FILE:1: processing_modules.Fit.type: "bash" is not allowed (expected macro (run by rat) | script (run by bash))',
      'FILE:1: processing_modules.Fit.nhit_cut: "15" is not allowed (expected a number of hits)',
    ]);
    expect(problemsOf(loadProcessingInfo, 'info.py', module('"raw_processor": True'))).toEqual([
      'FILE: the file name gives the RAT version (expected processing_information_<x>_<y>_<z>.py, such as processing_information_6_0_1.py)',
      'FILE: rat_version: is missing (expected a RAT version such as 7.0.8)',
    ]);
  });
});

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { InputError } from '../src/errors.js';
import type { JobDoc, ProductionInfoDoc, ProductionModule } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { runGasp } from './support/cli.js';
import { couchEnv, useTestDatabase } from './support/couch.js';

const test = useTestDatabase('submit');

function module(event_mode: ProductionModule['event_mode'], template: string[]): ProductionModule {
  return {
    path: `mac/production/x/${event_mode}.mac`,
    phase: 'x',
    event_mode,
    outputs: ['ratds'],
    template: ['OUTPUT', ...template],
    sha256: `sha-${event_mode}`,
  };
}

/** Production information written here by hand: one module per event mode. */
const INFO: ProductionInfoDoc = {
  _id: 'production_information_7_0_8',
  type: 'production_information',
  rat_version: '7.0.8',
  modules: {
    ScintBi214: module('number', ['radius']),
    ScintSolar: module('time', []),
    WaterRunByRun: module('run', []),
    WaterPerRun: module('run_number', ['source']),
    // as make-production records a macro whose ntuple nothing can name
    ScintNtupleOnly: {
      ...module('number', []),
      outputs: ['ntuple'],
      output_naming: { ntuple: 'none' },
      unnameable: 'line 3: the outntuple processor has no /rat/procset file',
    },
  },
};

beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  await test.db.put(INFO);
});

const work = () => mkdtempSync(join(tmpdir(), 'gasp-submit-'));

function requestFile(modules: unknown[], top: Record<string, unknown> = { rat_v: '7.0.8', label: 'mc' }): string {
  const file = join(work(), 'jobs.json');
  writeFileSync(file, JSON.stringify({ ...top, modules }, null, 2));
  return file;
}

async function jobsOf(module: string): Promise<JobDoc[]> {
  const all = await test.db.allDocs<JobDoc>({
    include_docs: true,
    startkey: `job:${module}:`,
    endkey: `job:${module}:\uffff`,
  });
  return all.rows.flatMap((row) => (row.doc ? [row.doc] : [])).sort((a, b) => a.run - b.run);
}

describe('request formats', () => {
  it('number: ceil(n_ev / ev_per_run) runs at the next free run numbers, the last with the remainder', async () => {
    const file = requestFile([{ module: 'ScintBi214', n_ev: 25, ev_per_run: 10, template: { radius: 6000 } }]);
    await submitRequestFile(test.db, file);
    const jobs = await jobsOf('ScintBi214');
    expect(jobs.map((job) => [job.run, job.passes[0]?.amount])).toEqual([
      [1, { events: 10 }],
      [2, { events: 10 }],
      [3, { events: 5 }],
    ]);
    expect(jobs[0]?.passes[0]).toMatchObject({
      pass: 1,
      status: 'waiting',
      rat_version: '7.0.8',
      event_mode: 'number',
      label: 'mc',
      priority: 0,
      template: { radius: 6000 },
      macro_sha256: 'sha-number',
      attempts: [],
    });
    // a new request never overwrites old runs
    await submitRequestFile(
      test.db,
      requestFile([{ module: 'ScintBi214', n_ev: 10, ev_per_run: 10, template: { radius: 5000 } }]),
    );
    expect((await jobsOf('ScintBi214')).map((job) => job.run)).toEqual([1, 2, 3, 4]);
  });

  it.each([
    ['day', 86_400],
    ['d', 86_400],
    ['hours', 3_600],
    ['min', 60],
    ['s', 1],
  ])('time: n_runs runs of t_run %s each', async (unit, seconds) => {
    const { result } = await submitRequestFile(
      test.db,
      requestFile([{ module: 'ScintSolar', t_run: 2, t_format: unit, n_runs: 2 }], {
        rat_v: '7.0.8',
        label: `solar-${unit}`,
      }),
    );
    const jobs = await test.db.allDocs<JobDoc>({
      keys: result.jobs.map((job) => `job:ScintSolar:${job.run}`),
      include_docs: true,
    });
    expect(jobs.rows.map((row) => row.doc?.passes.at(-1)?.amount)).toEqual([
      { seconds: 2 * seconds },
      { seconds: 2 * seconds },
    ]);
  });

  it('run: one job per run number from -L, each simulating n_runs times; a second request adds pass 2', async () => {
    const runs = join(work(), 'runs.txt');
    writeFileSync(runs, '# runs of the week\n300000\n\n300001\n');
    await submitRequestFile(test.db, requestFile([{ module: 'WaterRunByRun', n_runs: 1 }]), {
      runListFile: runs,
      ratdbTag: 'tag-1',
    });
    await submitRequestFile(
      test.db,
      requestFile([{ module: 'WaterRunByRun', n_runs: 2, run_numbers: [300001] }], { rat_v: '7.0.8', label: 'again' }),
    );
    const jobs = await jobsOf('WaterRunByRun');
    expect(
      jobs.map((job) => [job.run, job.passes.map((pass) => [pass.pass, pass.label, pass.amount, pass.ratdb_tag])]),
    ).toEqual([
      [300000, [[1, 'mc', { repeats: 1 }, 'tag-1']]],
      [
        300001,
        [
          [1, 'mc', { repeats: 1 }, 'tag-1'],
          [2, 'again', { repeats: 2 }, undefined],
        ],
      ],
    ]);
  });

  it('run_number: n_ev events for each run, split into subjobs of ev_per_run', async () => {
    await submitRequestFile(
      test.db,
      requestFile([
        { module: 'WaterPerRun', n_ev: 25, ev_per_run: 10, run_numbers: [250000], template: { source: 'n16' } },
      ]),
    );
    const [job] = await jobsOf('WaterPerRun');
    expect(job?.passes[0]?.amount).toEqual({ events: 25 });
    expect(job?.passes[0]?.subjobs).toEqual([
      { index: 0, events: 10 },
      { index: 1, events: 10 },
      { index: 2, events: 5 },
    ]);
  });
});

describe('a request with problems', () => {
  const cases: Array<[string, unknown[], string]> = [
    [
      'a misspelled module',
      [{ module: 'ScintBI214', n_ev: 1, ev_per_run: 1, template: { radius: 1 } }],
      'FILE: modules[0].module: no module "ScintBI214" in production information 7.0.8 (did you mean "ScintBi214"?)',
    ],
    [
      'a format unlike the event mode',
      [{ module: 'ScintSolar', n_ev: 1, ev_per_run: 1 }],
      'FILE: modules[0]: a number request for ScintSolar, whose event mode is time (expected t_run, t_format, n_runs)',
    ],
    [
      'a missing field',
      [{ module: 'ScintSolar', t_run: 1, n_runs: 1 }],
      'FILE: modules[0].t_format: is missing (expected t_run, t_format, n_runs for a time request)',
    ],
    [
      'a field of another format',
      [{ module: 'ScintSolar', t_run: 1, t_format: 'day', n_runs: 1, n_ev: 5 }],
      'FILE: modules[0].n_ev: does not belong in a time request (expected t_run, t_format, n_runs)',
    ],
    [
      'an unknown time unit',
      [{ module: 'ScintSolar', t_run: 1, t_format: 'fortnight', n_runs: 1 }],
      'FILE: modules[0].t_format: "fortnight" is not a time unit (expected day, h, min or s)',
    ],
    [
      'no run numbers and no -L',
      [{ module: 'WaterRunByRun', n_runs: 1 }],
      'FILE: modules[0].run_numbers: is missing (expected n_runs, run_numbers for a run request, or -L RUNLIST)',
    ],
    [
      'a run listed twice',
      [{ module: 'WaterRunByRun', n_runs: 1, run_numbers: [5, 5] }],
      'FILE: modules[0].run_numbers: lists a run twice (expected each run once)',
    ],
    [
      'a template field missing',
      [{ module: 'ScintBi214', n_ev: 1, ev_per_run: 1 }],
      'FILE: modules[0].template: misses radius (expected values for radius)',
    ],
    [
      'an unknown template field',
      [{ module: 'ScintBi214', n_ev: 1, ev_per_run: 1, template: { radius: 1, colour: 'red' } }],
      'FILE: modules[0].template.colour: is not a template field of ScintBi214 (expected radius)',
    ],
    [
      'a field gasp fills',
      [{ module: 'ScintBi214', n_ev: 1, ev_per_run: 1, template: { radius: 1, OUTPUT: 'x' } }],
      'FILE: modules[0].template.OUTPUT: is filled in by gasp (leave it out)',
    ],
    [
      'a negative count',
      [{ module: 'ScintBi214', n_ev: -1, ev_per_run: 1, template: { radius: 1 } }],
      'FILE: modules[0].n_ev: -1 is not allowed (expected a whole number of events, more than 0)',
    ],
    [
      'an unknown key',
      [{ module: 'ScintBi214', n_evs: 1, ev_per_run: 1 }],
      'FILE: modules[0].n_evs: unknown key (expected module, label, template, priority, t_run, t_format, n_runs, n_ev, ev_per_run, run_numbers)',
    ],
    [
      'a bad label',
      [{ module: 'ScintSolar', t_run: 1, t_format: 'day', n_runs: 1, label: 'a/b' }],
      'FILE: modules[0].label: "a/b" is not allowed (expected a label of letters, digits, _ . + - such as mc-2026-bi214)',
    ],
  ];

  it.each(cases)('%s: one line with its path, nothing written', async (_name, modules, expected) => {
    const file = requestFile(modules, { rat_v: '7.0.8', label: 'bad' });
    const before = (await test.db.info()).doc_count;
    const error = await submitRequestFile(test.db, file).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems.map((line) => line.replace(file, 'FILE'))).toEqual([expected]);
    expect((await test.db.info()).doc_count).toBe(before);
  });

  it('names a module like "constructor" as unknown, and refuses an entry that would make too many jobs', async () => {
    const file = requestFile([
      { module: 'constructor', n_ev: 1, ev_per_run: 1 },
      { module: 'ScintBi214', n_ev: 100_000_000, ev_per_run: 1, template: { radius: 1 } },
    ]);
    const error = (await submitRequestFile(test.db, file).catch((thrown: unknown) => thrown)) as InputError;
    expect(error.problems.map((line) => line.replace(file, 'FILE'))).toEqual([
      'FILE: modules[0].module: no module "constructor" in production information 7.0.8',
      'FILE: modules[1]: makes 100000000 jobs (expected at most 100000 per entry; raise ev_per_run or t_run, or split the request)',
    ]);
  });

  it("reports the entries' problems even when the top level is wrong, and a run listed twice in -L by file and line", async () => {
    const file = requestFile([{ module: 'ScintBI214', n_ev: 0, ev_per_run: 1 }], { rat_v: '7.0.8', label: 'a b' });
    const error = (await submitRequestFile(test.db, file).catch((thrown: unknown) => thrown)) as InputError;
    expect(error.problems.map((line) => line.replace(file, 'FILE'))).toEqual([
      'FILE: label: "a b" is not allowed (expected a label of letters, digits, _ . + - such as mc-2026-bi214)',
      'FILE: modules[0].n_ev: 0 is not allowed (expected a whole number of events, more than 0)',
    ]);
    const runs = join(work(), 'runs.txt');
    writeFileSync(runs, '5\n6\n5\n');
    const twice = (await submitRequestFile(test.db, requestFile([{ module: 'WaterRunByRun', n_runs: 1 }]), {
      runListFile: runs,
    }).catch((thrown: unknown) => thrown)) as InputError;
    expect(twice.problems).toEqual([`${runs}:3: run 5 is listed again (first on line 1; expected each run once)`]);
  });

  it('writes nothing when one entry of many is wrong, and names every problem', async () => {
    const before = (await test.db.info()).doc_count;
    const file = requestFile([
      { module: 'ScintSolar', t_run: 1, t_format: 'day', n_runs: 3 },
      { module: 'ScintBI214', n_ev: 1, ev_per_run: 1, template: { radius: 1 } },
      { module: 'ScintSolar', t_run: 1, t_format: 'week', n_runs: 3 },
    ]);
    const error = (await submitRequestFile(test.db, file).catch((thrown: unknown) => thrown)) as InputError;
    expect(error.problems).toHaveLength(2);
    expect((await test.db.info()).doc_count).toBe(before);
  });

  it('reports invalid JSON with line and column, and an unknown RAT version', async () => {
    const dir = work();
    writeFileSync(
      join(dir, 'comma.json'),
      '{\n  "rat_v": "7.0.8",\n  "modules": [\n    {"module": "ScintSolar",}\n  ]\n}\n',
    );
    const result = await runGasp(['submit', join(dir, 'comma.json'), '--dry-run'], { env: couchEnv(test.db.name) });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `${join(dir, 'comma.json')}:4:29: a "name" was expected (a trailing comma?) (expected a jobs.json request: {"rat_v", "label", "modules": [...]})`,
    );
    writeFileSync(join(dir, 'array.json'), '{"rat_v": "7.0.8", "modules": [\n  {"module": "ScintSolar"},\n]}\n');
    const array = await runGasp(['submit', join(dir, 'array.json'), '--dry-run'], { env: couchEnv(test.db.name) });
    expect(array.stderr.trim()).toBe(
      `${join(dir, 'array.json')}:3:1: a value was expected (a trailing comma?) (expected a jobs.json request: {"rat_v", "label", "modules": [...]})`,
    );
    const file = requestFile([{ module: 'ScintSolar', t_run: 1, t_format: 'day', n_runs: 1 }], {
      rat_v: '7.1.0',
      label: 'x',
    });
    const unknown = (await submitRequestFile(test.db, file).catch((thrown: unknown) => thrown)) as InputError;
    expect(unknown.problems).toEqual([
      `${file}: rat_v: no production information for RAT 7.1.0 in ${test.db.name} (expected gasp make-production --upload for that release first)`,
    ]);
  });
});

describe('gasp submit from the command line', () => {
  const env = () => couchEnv(test.db.name);

  it("creates exactly what the dry run promised, nothing the second time, and an .exactly identical to the database's", async () => {
    const dir = work();
    const file = join(dir, 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'cli-mc',
        modules: [
          { module: 'ScintBi214', n_ev: 30, ev_per_run: 10, template: { radius: 1 }, priority: 3 },
          { module: 'WaterRunByRun', n_runs: 1, run_numbers: [310000, 310001] },
          { module: 'ScintBi214', n_ev: 10, ev_per_run: 10, template: { radius: 2 } },
        ],
      }),
    );
    const dry = await runGasp(['submit', file, '--testing-nodb', '--json'], { cwd: dir, env: env() });
    expect(dry.code).toBe(0);
    const promised = JSON.parse(dry.stdout) as { jobs: unknown[]; written: number };
    expect(promised.written).toBe(6);
    const real = await runGasp(['submit', file, '--json'], { cwd: dir, env: env() });
    expect(real.code).toBe(0);
    const done = JSON.parse(real.stdout) as { jobs: unknown[]; written: number; alreadySubmitted: boolean };
    expect(done.jobs).toEqual(promised.jobs);
    expect(done.written).toBe(6);
    const again = await runGasp(['submit', file], { cwd: dir, env: env() });
    expect(again.stdout).toContain('already submitted: all 6 jobs are in');
    const fromSubmit = readFileSync(join(dir, 'cli-mc.exactly'), 'utf8');
    expect(fromSubmit.trim().split('\n')).toHaveLength(6);
    expect(fromSubmit).toMatch(/^ScintBi214\t\d+\t1\n/);
    const fromDb = await runGasp(['exactly', '--label', 'cli-mc', '-o', '-'], { env: env() });
    expect(fromDb.stdout).toBe(fromSubmit);
  });

  it('adds another pass to every job with --new-pass', async () => {
    const dir = work();
    const file = join(dir, 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'newpass',
        modules: [{ module: 'ScintSolar', t_run: 1, t_format: 'h', n_runs: 2 }],
      }),
    );
    await runGasp(['submit', file], { cwd: dir, env: env() });
    const second = await runGasp(['submit', file, '--new-pass', '--json'], { cwd: dir, env: env() });
    const result = JSON.parse(second.stdout) as { generation: number; jobs: Array<{ pass: number }> };
    expect(result.generation).toBe(2);
    expect(result.jobs.map((job) => job.pass)).toEqual([2, 2]);
    expect(readFileSync(join(dir, 'newpass.exactly'), 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('refuses an .exactly file it could not add to before writing any job', async () => {
    const dir = work();
    const file = join(dir, 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'outfile',
        modules: [{ module: 'ScintSolar', t_run: 1, t_format: 'h', n_runs: 2 }],
      }),
    );
    const before = (await test.db.info()).doc_count;
    const missing = await runGasp(['submit', file, '-o', '/nonexistent/x.exactly'], { cwd: dir, env: env() });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(
      '/nonexistent/x.exactly: its folder does not exist (expected an .exactly file in an existing folder)',
    );
    writeFileSync(join(dir, 'outfile.exactly'), 'not an exactly line\n');
    const garbled = await runGasp(['submit', file], { cwd: dir, env: env() });
    expect(garbled.code).toBe(2);
    expect(garbled.stderr.trim()).toBe(
      `outfile.exactly:1: "not an exactly line" is not a job (expected module<TAB>run<TAB>pass)`,
    );
    expect((await test.db.info()).doc_count).toBe(before);
  });

  it('refuses a module whose outputs cannot be named, and a RATDB tag that is not one word: exit 2, one line each, nothing written', async () => {
    const dir = work();
    const file = requestFile([{ module: 'ScintNtupleOnly', n_ev: 10, ev_per_run: 5 }], {
      rat_v: '7.0.8',
      label: 'unnamed',
    });
    const before = (await test.db.info()).doc_count;
    const result = await runGasp(['submit', file, '-o', join(dir, 'unnamed.exactly'), '-t', 'frozen tag'], {
      cwd: dir,
      env: env(),
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      '-t: "frozen tag" is not a RATDB tag (expected one word of letters, digits and . _ + : -, such as water-physics-v2)',
      `${file}: modules[0].module: ScintNtupleOnly cannot run: its outputs cannot be named (line 3: the outntuple processor has no /rat/procset file; production information 7.0.8)`,
    ]);
    expect((await test.db.info()).doc_count).toBe(before);
    expect(existsSync(join(dir, 'unnamed.exactly'))).toBe(false);
  });

  it('refuses a bad --priority with exit 2', async () => {
    const result = await runGasp(['submit', 'jobs.json', '--priority', 'high']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('--priority: "high" is not a whole number (expected such as 10)');
  });
});

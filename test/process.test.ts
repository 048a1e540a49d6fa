import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { InputError } from '../src/errors.js';
import type { JobDoc, Pass, ProcessingInfoDoc, RunDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { processRuns, type ProcessOptions } from '../src/processing/process.js';
import { addRuns, parseRuns, type RunInput } from '../src/processing/runs.js';
import { spawnSync } from 'node:child_process';
import { GASP_BIN, runGasp } from './support/cli.js';
import { couchEnv, useTestDatabase } from './support/couch.js';
import { followUntilSeen } from './support/follow.js';
import { folderWith } from './support/files.js';

const test = useTestDatabase('process');

/** Written here by hand: Processing per subfile, Analysis after it, Monitoring on its own. */
const INFO: ProcessingInfoDoc = {
  _id: 'processing_information_7_0_8',
  type: 'processing_information',
  rat_version: '7.0.8',
  modules: {
    Processing: { level: 'sub_run', path: 'p.mac', outputs: ['ratds'], prerequisites: [], raw_processor: true },
    Analysis: {
      level: 'run_root',
      path: 'a.mac',
      outputs: ['ntuple'],
      prerequisites: ['Processing'],
      raw_processor: false,
    },
    Monitoring: { level: 'run_zdab', path: 'm.mac', outputs: ['soc'], prerequisites: [], raw_processor: true },
  },
  run_types: { Physics: ['Analysis', 'Processing', 'Monitoring'], Reanalysis: ['Analysis'] },
};

const OPTIONS: ProcessOptions = { label: 'proc', priority: 2, prereqPass: 'latest' };

function run(number: number, runType = 'Physics', subfiles = 2): RunInput {
  return {
    run: number,
    run_type: runType,
    subfiles: Array.from({ length: subfiles }, (_, index) => ({
      name: `SNOP_${number}_${index}.zdab`,
      size: 100 + index,
      checksum: `adler32:${index}`,
    })),
  };
}

async function runDocs(...numbers: number[]): Promise<RunDoc[]> {
  const found = await test.db.allDocs<RunDoc>({ keys: numbers.map((number) => `run:${number}`), include_docs: true });
  return found.rows.flatMap((row) => (row.doc ? [row.doc] : []));
}

const job = (module: string, number: number) => test.db.get<JobDoc>(`job:${module}:${number}`);

/** Run `number` registered with `subfiles` and processed, its Processing pass then left `status` as a client leaves it. */
async function processedAs(number: number, subfiles: number, status: Pass['status'], more: Partial<Pass> = {}) {
  await addRuns(test.db, [run(number, 'Physics', subfiles)]);
  await processRuns(test.db, await runDocs(number), INFO, OPTIONS);
  const processed = await job('Processing', number);
  await test.db.put({ ...processed, passes: processed.passes.map((pass) => ({ ...pass, status, ...more })) });
}

beforeAll(async () => {
  await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  await test.db.put(INFO);
});

describe('gasp runs add', () => {
  it('adds new runs, updates a changed one and leaves the same one alone', async () => {
    expect(await addRuns(test.db, [run(1), run(2)])).toEqual([
      { run: 1, outcome: 'added' },
      { run: 2, outcome: 'added' },
    ]);
    expect(await addRuns(test.db, [run(1), run(2, 'Physics', 3)])).toEqual([
      { run: 1, outcome: 'unchanged' },
      { run: 2, outcome: 'updated' },
    ]);
    expect((await runDocs(2))[0]?.subfiles).toHaveLength(3);
  });

  it.each([
    [
      { run: -1, run_type: 'Physics', subfiles: [{ name: 'a', size: 1, checksum: 'c' }] },
      'runs.json: run: -1 is not allowed (expected a run number)',
    ],
    [
      { run: 5, subfiles: [{ name: 'a', size: 1, checksum: 'c' }] },
      'runs.json: run_type: is missing (expected a run type such as Physics)',
    ],
    [
      { run: 5, run_type: 'Physics', subfiles: [] },
      'runs.json: subfiles: [] is not allowed (expected at least one raw subfile)',
    ],
    [
      { run: 5, run_type: 'Physics', subfiles: [{ name: 'a', size: 1 }] },
      'runs.json: subfiles[0].checksum: is missing (expected a checksum such as adler32:0a1b2c3d)',
    ],
    [
      {
        run: 5,
        run_type: 'Physics',
        subfiles: [{ name: 'a.zdab', size: 1, checksum: 'c', url: 'root://se//raw/5/0' }],
      },
      "runs.json: subfiles[0].url: root://se//raw/5/0 does not end in the file's name a.zdab (expected the URL of a.zdab)",
    ],
    [
      { run: 5, run_type: 'Physics', subfiles: [{ name: 'a', size: 1, checksum: 'c', url: 'root://u:pw@se//a' }] },
      'runs.json: subfiles[0].url: "root://***@se//a" is not allowed (expected where jobs read the file: a file:// or root:// URL, with no user or password in it)',
    ],
  ])('refuses %j with one line naming where', (value, expected) => {
    expect(() => parseRuns(value, 'runs.json')).toThrow(InputError);
    try {
      parseRuns(value, 'runs.json');
    } catch (error) {
      expect((error as InputError).problems).toEqual([expected]);
    }
  });

  it('reads runs from a file and from standard input', async () => {
    const env = couchEnv(test.db.name);
    const dir = folderWith({ 'runs.json': JSON.stringify([run(50), run(51)]) });
    const result = await runGasp(['runs', 'add', join(dir, 'runs.json')], { env });
    expect(result.stdout.trim().split('\n').at(-1)).toBe(`2 added, 0 updated, 0 unchanged in ${test.db.name}`);
    const piped = spawnSync(process.execPath, [GASP_BIN, 'runs', 'add', '-'], {
      input: JSON.stringify(run(52)),
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    expect(piped.status).toBe(0);
    expect(piped.stdout.trim().split('\n')).toEqual([
      'run 52: added',
      `1 added, 0 updated, 0 unchanged in ${test.db.name}`,
    ]);
  });
});

describe('gasp process', () => {
  it("creates the run type's modules, a subjob per subfile, and prerequisites on the specific pass", async () => {
    await addRuns(test.db, [run(100), run(101, 'Physics', 1)]);
    const result = await processRuns(test.db, await runDocs(100, 101), INFO, OPTIONS);
    expect(result.skipped).toEqual([]);
    expect(result.jobs.map((item) => `${item.run} ${item.module} ${item.pass} ${item.created}`)).toEqual([
      '100 Analysis 1 true',
      '100 Monitoring 1 true',
      '100 Processing 1 true',
      '101 Analysis 1 true',
      '101 Monitoring 1 true',
      '101 Processing 1 true',
    ]);
    const processing = (await job('Processing', 100)).passes[0];
    expect(processing).toMatchObject({
      status: 'waiting',
      level: 'sub_run',
      label: 'proc',
      priority: 2,
      rat_version: '7.0.8',
    });
    expect(processing?.subjobs).toEqual([
      { index: 0, file: 'SNOP_100_0.zdab', checksum: 'adler32:0' },
      { index: 1, file: 'SNOP_100_1.zdab', checksum: 'adler32:1' },
    ]);
    expect((await job('Analysis', 100)).passes[0]?.prerequisites).toEqual([
      { module: 'Processing', run: 100, pass: 1 },
    ]);
    expect((await job('Monitoring', 100)).passes[0]?.subjobs).toBeUndefined();
  });

  it('creates nothing the second time for the same runs and version', async () => {
    const again = await processRuns(test.db, await runDocs(100), INFO, OPTIONS);
    expect(again.jobs.every((item) => !item.created)).toBe(true);
    expect((await job('Processing', 100)).passes).toHaveLength(1);
  });

  it("points a module outside the run type at the prerequisite's existing pass, and skips it when there is none", async () => {
    await addRuns(test.db, [run(100, 'Reanalysis'), run(200, 'Reanalysis')]);
    const existing = await test.db.get<JobDoc>('job:Processing:100');
    await test.db.put({
      ...existing,
      passes: [...existing.passes, { ...existing.passes[0]!, pass: 2, request: 'other' }],
    });
    const reanalysis = { ...INFO, _id: 'x', rat_version: '7.0.9' };
    const result = await processRuns(test.db, await runDocs(100, 200), reanalysis, { ...OPTIONS, prereqPass: 2 });
    expect(result.jobs.map((item) => `${item.run} ${item.module} ${item.pass}`)).toEqual(['100 Analysis 2']);
    expect((await job('Analysis', 100)).passes[1]?.prerequisites).toEqual([
      { module: 'Processing', run: 100, pass: 2 },
    ]);
    expect(result.skipped).toEqual(['run 200: Analysis needs Processing, which has no pass 2 on this run; no job']);
  });

  it('gives a waiting sub_run pass subjobs for subfiles that arrived later', async () => {
    await addRuns(test.db, [run(500, 'Physics', 2)]);
    await processRuns(test.db, await runDocs(500), INFO, OPTIONS);
    await addRuns(test.db, [run(500, 'Physics', 3)]);
    const again = await processRuns(test.db, await runDocs(500), INFO, OPTIONS);
    expect(again.skipped).toEqual([]);
    expect((await job('Processing', 500)).passes[0]?.subjobs?.map((subjob) => subjob.file)).toEqual([
      'SNOP_500_0.zdab',
      'SNOP_500_1.zdab',
      'SNOP_500_2.zdab',
    ]);
  });

  it('makes a new pass of only the subfiles that came after the run was processed, once', async () => {
    await processedAs(600, 2, 'completed', { site: 'here' });
    await addRuns(test.db, [run(600, 'Physics', 3)]);
    const dry = await processRuns(test.db, await runDocs(600), INFO, { ...OPTIONS, dryRun: true });
    expect(dry.jobs.filter((item) => item.created).map((item) => `${item.module} ${item.pass}`)).toEqual([
      'Processing 2',
    ]);
    expect((await job('Processing', 600)).passes).toHaveLength(1);
    const late = await processRuns(test.db, await runDocs(600), INFO, OPTIONS);
    expect(late.jobs.filter((item) => item.created).map((item) => `${item.module} ${item.pass}`)).toEqual([
      'Processing 2',
    ]);
    // Analysis reads the run after Processing pass 1: it says the late subfile is not in it
    expect(late.skipped).toEqual([
      'run 600: Analysis pass 1 needs Processing pass 1; the late subfiles in Processing pass 2 are not in it',
    ]);
    const second = (await job('Processing', 600)).passes[1];
    expect(second).toMatchObject({
      pass: 2,
      status: 'waiting',
      late_of: 1,
      label: 'proc',
      priority: 2,
      level: 'sub_run',
      request: 'process:7.0.8',
      attempts: [],
      subjobs: [{ index: 0, file: 'SNOP_600_2.zdab', checksum: 'adler32:2' }],
    });
    expect(second?.site).toBeUndefined();

    await processRuns(test.db, await runDocs(600), INFO, OPTIONS);
    expect((await job('Processing', 600)).passes).toHaveLength(2);
    await addRuns(test.db, [run(600, 'Physics', 4)]);
    await processRuns(test.db, await runDocs(600), INFO, OPTIONS);
    const passes = (await job('Processing', 600)).passes;
    expect(passes.map((pass) => pass.subjobs?.map((subjob) => subjob.file))).toEqual([
      ['SNOP_600_0.zdab', 'SNOP_600_1.zdab'],
      ['SNOP_600_2.zdab', 'SNOP_600_3.zdab'],
    ]);
  });

  it('places late subfiles in the job as it is when a client changed it meanwhile, once', async () => {
    await processedAs(650, 1, 'running');
    await addRuns(test.db, [run(650, 'Physics', 2)]);
    // a client writes the job (as a lease renewal would) just before the late pass is written
    let raced = 0;
    const racing = new Proxy(test.db, {
      get(target, property, receiver) {
        if (property !== 'bulkDocs') return Reflect.get(target, property, receiver) as unknown;
        return async (docs: JobDoc[]) => {
          if (raced++ === 0 && docs.some((doc) => doc._id === 'job:Processing:650')) {
            const now = await target.get<JobDoc>('job:Processing:650');
            await target.put({ ...now, passes: now.passes.map((pass) => ({ ...pass, site: 'racer' })) });
          }
          return target.bulkDocs(docs);
        };
      },
    });
    const result = await processRuns(racing, await runDocs(650), INFO, OPTIONS);
    expect(result.jobs.filter((item) => item.created).map((item) => `${item.module} ${item.pass}`)).toEqual([
      'Processing 2',
    ]);
    const passes = (await job('Processing', 650)).passes;
    expect(passes.map((pass) => [pass.pass, pass.site, pass.subjobs?.map((subjob) => subjob.file)])).toEqual([
      [1, 'racer', ['SNOP_650_0.zdab']],
      [2, undefined, ['SNOP_650_1.zdab']],
    ]);
  });

  it('leaves late subfiles out with one line under --late ignore', async () => {
    await processedAs(700, 1, 'failed');
    await addRuns(test.db, [run(700, 'Physics', 3)]);
    const result = await processRuns(test.db, await runDocs(700), INFO, { ...OPTIONS, late: 'ignore' });
    expect(result.skipped).toEqual([
      'run 700: Processing pass 1 is failed; 2 new subfiles left out (--late ignore; --late new-pass makes a pass of them)',
    ]);
    expect((await job('Processing', 700)).passes).toHaveLength(1);
  });

  it('skips a run whose type the processing information does not know', async () => {
    await addRuns(test.db, [run(300, 'Maintenance')]);
    const result = await processRuns(test.db, await runDocs(300), INFO, OPTIONS);
    expect(result.jobs).toEqual([]);
    expect(result.skipped).toEqual([
      'run 300: run type "Maintenance" has no modules in the processing information for RAT 7.0.8',
    ]);
  });

  it('follows new runs and creates their jobs as they come', async () => {
    const following = followUntilSeen(test.db, INFO, 400);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await addRuns(test.db, [run(400)]);
    const seen = await following;
    expect(seen).toContain(400);
    expect((await job('Analysis', 400)).passes[0]?.prerequisites).toEqual([
      { module: 'Processing', run: 400, pass: 1 },
    ]);
  });

  it('says what is wrong with its options, with exit code 2', async () => {
    const result = await runGasp([
      'process',
      '--rat',
      '7',
      '--prereq-pass',
      'first',
      '-R',
      '1',
      '--follow',
      '--late',
      'later',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      'runs: choose one of -R RUN, --first A --last B, -L RUNLIST, --follow or --from-production',
      '--rat: "7" is not a RAT version (expected x.y.z such as 7.0.8)',
      '--late: "later" is not what to do with late subfiles (expected new-pass or ignore)',
      '--prereq-pass: "first" is neither latest nor a pass number',
    ]);
    const backwards = await runGasp(['process', '--first', '102', '--last', '100', '--rat', '7.0.8'], {
      env: couchEnv(test.db.name),
    });
    expect(backwards.code).toBe(2);
    expect(backwards.stderr.trim()).toBe(
      '--first 102 --last 100: the first run is after the last (expected --first <= --last)',
    );
  });
});

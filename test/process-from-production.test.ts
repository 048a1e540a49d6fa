import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import { passFolder, readManifest } from '../src/backends/prepare.js';
import type { JobDoc } from '../src/model/documents.js';
import type { Database } from '../src/db/database.js';
import { gaspOn } from './support/cli.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { completedData, context, databaseWithJobs, jobs } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

const PROCESSING_INFO = join(FIXTURE_RELEASE, 'processing_information_7_0_8.json');

describe('gasp process --from-production', () => {
  it("runs a processing module over a production label's ratds files, once, in the production database", async () => {
    const db = await databaseWithJobs(2, 'reproc');
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 });
    const ctx = context(db, 'reproc-site', backend);
    const produced = (await completedData(ctx)).filter((doc) => doc.data_type === 'ratds');
    expect(produced.map((doc) => `${doc.module} ${doc.run} ${doc.pass}`)).toEqual([
      'PartialPo210 1 1',
      'PartialPo210 2 1',
    ]);
    const upload = await gaspOn(db, ['processing-info', 'upload', PROCESSING_INFO, '--mode', 'production']);
    expect(upload.code).toBe(0);

    const args = ['process', '--from-production', 'enq', '--module', 'Processing', '--rat', '7.0.8'];
    const dry = await gaspOn(db, [...args, '--dry-run']);
    expect(dry.stdout.trim().split('\n')).toEqual([
      'Processing run 1 pass 1: 1 files of PartialPo210 run 1 pass 1',
      'Processing run 2 pass 1: 1 files of PartialPo210 run 2 pass 1',
      'dry run: would create 2 passes; 0 were there already',
    ]);
    expect((await jobs(db)).filter((doc) => doc.module === 'Processing')).toEqual([]);

    const created = await gaspOn(db, args);
    expect(created.code).toBe(0);
    expect(created.stdout.trim().split('\n').at(-1)).toBe('created 2 passes; 0 were there already');
    const pass = (await db.get<JobDoc>('job:Processing:1')).passes[0];
    const input = fileURLToPath(produced[0]!.files[0]!.replicas[0]!.url);
    expect(pass).toMatchObject({
      status: 'waiting',
      label: 'enq-Processing',
      level: 'sub_run',
      prerequisites: [{ module: 'PartialPo210', run: 1, pass: 1 }],
      subjobs: [{ index: 0, file: input, checksum: `adler32:${produced[0]!.files[0]!.adler32}` }],
    });

    const why = await gaspOn(db, ['why', '--label', 'enq-Processing']);
    expect(why.code).toBe(0);
    expect(why.stdout).toContain('2 waiting passes (Processing 1 pass 1, Processing 2 pass 1):');

    // the production client runs them with rat -i on the recorded copy, and records their outputs
    const data = await completedData(ctx);
    const outputs = data.filter((doc) => doc.module === 'Processing');
    expect(outputs.map((doc) => `${doc.run} ${doc.pass} ${doc.data_type} ${doc.files[0]?.name}`)).toEqual([
      '1 1 ratds Processing_r1_p1_s0.root',
      '2 1 ratds Processing_r2_p1_s0.root',
    ]);
    const folder = passFolder(ctx.workRoot, 'enq-Processing', 'Processing', 1, 1);
    const out = readFileSync(join(folder, readdirSync(folder)[0]!, 'job.out'), 'utf8');
    expect(out).toContain(`fake rat: read input ${input} (`);

    const again = await gaspOn(db, args);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('created 0 passes; 2 were there already');
    expect((await db.get<JobDoc>('job:Processing:1')).passes).toHaveLength(1);

    const summary = await gaspOn(db, ['summary', '--label', 'enq-Processing']);
    expect(summary.code).toBe(0);
    expect(summary.stdout).toContain('Processing');
    await expectBadInput(db, args);
  }, 120_000);
});

/** Each bad input: one line, exit code 2, nothing written. */
async function expectBadInput(db: Parameters<typeof gaspOn>[0], args: string[]): Promise<void> {
  const before = (await db.info()).doc_count;
  const cases: Array<[string[], string]> = [
    [
      ['process', '--from-production', 'nope', '--module', 'Processing', '--rat', '7.0.8'],
      `--from-production: no pass has label "nope" in ${db.name}`,
    ],
    [
      [...args.slice(0, 4), 'Bogus', '--rat', '7.0.8'],
      '--module: "Bogus" is not a module of the processing information for RAT 7.0.8 (expected one of Processing, Analysis, CalibrationN16, Monitoring)',
    ],
    [
      ['process', '--from-production', 'enq', '--module', 'Processing', '--rat', '7.0.9'],
      `--rat: no processing information for RAT 7.0.9 in ${db.name} (expected gasp processing-info upload FILE --mode production first)`,
    ],
  ];
  for (const [bad, line] of cases) {
    const result = await gaspOn(db, bad);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')[0]).toContain(line);
  }
  expect((await db.info()).doc_count).toBe(before);
}

/** Uploads the fixture processing information to the production database, then reprocesses label enq with Processing. */
async function reprocessEnq(db: Database) {
  expect((await gaspOn(db, ['processing-info', 'upload', PROCESSING_INFO, '--mode', 'production'])).code).toBe(0);
  return gaspOn(db, ['process', '--from-production', 'enq', '--module', 'Processing', '--rat', '7.0.8']);
}

/** A label whose passes have not completed has nothing to read. */
describe('gasp process --from-production on a label without completed passes', () => {
  it('says so in one line, exit code 2, and writes nothing', async () => {
    const db = await databaseWithJobs(1, 'reproc-none');
    const result = await reprocessEnq(db);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `--from-production: label "enq" has no completed passes in ${db.name} (expected a production run to completion first)`,
    );
    expect((await jobs(db)).map((doc: JobDoc) => doc.module)).toEqual(['PartialPo210']);
  });
});

describe('gasp process --from-production refuses what it cannot run', () => {
  it('an input with no usable copy (its root:// copy found missing), in one line naming the file, writing nothing', async () => {
    const db = await databaseWithJobs(1, 'reproc-root');
    const [doc] = await jobs(db);
    await db.put({ ...doc!, passes: doc!.passes.map((pass) => ({ ...pass, status: 'completed' as const })) });
    const url = 'root://se.example//snoplus/enq/PartialPo210/1/1/PartialPo210_r1_p1_s0.root';
    const file = {
      subjob: 0,
      name: 'PartialPo210_r1_p1_s0.root',
      lfn: '/enq/PartialPo210/1/1/PartialPo210_r1_p1_s0.root',
    };
    await db.put({
      _id: 'data:PartialPo210:1:1:ratds',
      type: 'data',
      module: 'PartialPo210',
      run: 1,
      pass: 1,
      label: 'enq',
      data_type: 'ratds',
      files: [
        {
          ...file,
          ...{ guid: 'g', size: 1, adler32: '1', sha256: 's', events: 1, url },
          replicas: [{ se: 'SE', url, missing: '2026-11-30T00:00:00Z' }],
        },
      ],
    });
    const result = await reprocessEnq(db);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `${file.lfn}: no usable copy to read (expected a file:// or root:// replica that gasp verify has not found missing)`,
    );
    expect((await jobs(db)).map((job) => job.module)).toEqual(['PartialPo210']);
  });

  it('a run selection or a missing module beside --from-production, and --module without it', async () => {
    const db = await databaseWithJobs(1, 'reproc-options');
    const both = await gaspOn(db, ['process', '--from-production', 'enq', '-R', '1', '--rat', '7.0.8']);
    expect(both.code).toBe(2);
    expect(both.stderr.trim().split('\n')).toEqual([
      "--from-production: does not go with -R, --first/--last, -L or --follow (it reads the label's passes)",
      '--module: is missing (expected the processing module to run over the production output)',
    ]);
    const alone = await gaspOn(db, ['process', '-R', '1', '--module', 'Processing', '--rat', '7.0.8']);
    expect(alone.code).toBe(2);
    expect(alone.stderr.trim()).toBe('--module: goes with --from-production (run types choose the modules of runs)');
  });
});

describe('gasp process --from-production over a label whose outputs are only on a root:// storage element', () => {
  const se = needsXrootd();

  it('makes subjobs that read the root:// copies, checked by adler32; their passes run and are recorded', async () => {
    const db = await databaseWithJobs(1, 'reproc-se');
    const storage = `${se.url}//reproc-${randomUUID().slice(0, 8)}`;
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 });
    const ctx = context(db, 'se-site', backend, 4, { storage, lines: 'se = LOCAL-SE\n' });
    const [produced] = (await completedData(ctx)).filter((doc) => doc.data_type === 'ratds');
    const source = produced!.files[0]!;
    expect(source.replicas.map((replica) => replica.url)).toEqual([`${storage}/${source.lfn.slice(1)}`]);

    const created = await reprocessEnq(db);
    expect(created.code, created.stderr).toBe(0);
    expect((await db.get<JobDoc>('job:Processing:1')).passes[0]?.subjobs).toEqual([
      { index: 0, file: source.url, checksum: `adler32:${source.adler32}` },
    ]);

    const data = await completedData(ctx);
    const outputs = data.filter((doc) => doc.module === 'Processing');
    expect(outputs.map((doc) => `${doc.run} ${doc.pass} ${doc.data_type} ${doc.files[0]?.url}`)).toEqual([
      `1 1 ratds ${storage}/enq-Processing/Processing/1/1/Processing_r1_p1_s0.root`,
    ]);
    // rat read the wrapper's copy of the SE's file, and the copy is gone: no input is left in the job's folder
    const folder = passFolder(ctx.workRoot, 'enq-Processing', 'Processing', 1, 1);
    const jobFolder = join(folder, readdirSync(folder)[0]!);
    expect(readFileSync(join(jobFolder, 'job.out'), 'utf8')).toContain(
      `fake rat: read input inputs/${source.name} (${source.size} bytes)`,
    );
    expect(existsSync(join(jobFolder, 'inputs'))).toBe(false);
    expect(readManifest(join(jobFolder, 'manifest.json'))?.input).toMatchObject({
      url: source.url,
      size: source.size,
      adler32: source.adler32,
    });
  }, 120_000);
});

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import { passFolder, readManifest } from '../src/backends/prepare.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import type { DataDoc, JobDoc, ProcessingInfoDoc, RunDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { processRuns } from '../src/processing/process.js';
import { addRuns } from '../src/processing/runs.js';
import { adler32OfFile } from '../src/storage/adler32.js';
import { testCouch, uniqueName } from './support/couch.js';
import { context, runUntilEnded } from './support/jobs.js';
import { needsXrootd } from './support/xrootd.js';

/** A macro module (rat -i) and a script module (GASP_INPUT), both per raw subfile. */
const INFO: ProcessingInfoDoc = {
  _id: 'processing_information_7_0_8',
  type: 'processing_information',
  rat_version: '7.0.8',
  modules: {
    NhitFilter: {
      level: 'sub_run',
      path: 'mac/processing/nhit_filter.mac',
      outputs: ['ntuple'],
      prerequisites: [],
      raw_processor: true,
      nhit_cut: 20,
    },
    HitCount: {
      type: 'script',
      level: 'sub_run',
      path: 'mac/processing/hit_count.sh',
      outputs: ['ntuple'],
      prerequisites: [],
      raw_processor: true,
    },
  },
  run_types: { Physics: ['NhitFilter', 'HitCount'] },
};

/** The one job folder of a module's pass on a run. */
function jobFolderOf(workRoot: string, module: string, run: number): string {
  const folder = passFolder(workRoot, 'proc', module, run, 1);
  return join(folder, readdirSync(folder)[0]!);
}

describe('processing passes whose subjobs read root:// raw files', () => {
  const se = needsXrootd();

  it('copy the file into the job folder, check its adler32, run rat on the copy and remove it; a copy with other bytes, or an SE that does not answer, fails the job (exit 12) before rat runs', async () => {
    const db = testCouch().use(uniqueName('root-input'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    await db.put(INFO);
    const dir = `raw-${randomUUID().slice(0, 8)}`;
    mkdirSync(join(se.data, dir));
    const name = (run: number) => `SNOP_${run}_0.zdab`;
    for (const run of [9, 10])
      writeFileSync(join(se.data, dir, name(run)), Buffer.alloc(1000, `raw data of run ${run}\n`));
    const adler32 = await adler32OfFile(join(se.data, dir, name(9)));
    const url = (run: number) => `${se.url}//${dir}/${name(run)}`;
    const dead = 'root://127.0.0.1:1//raw/SNOP_11_0.zdab';
    await addRuns(db, [
      {
        run: 9,
        run_type: 'Physics',
        subfiles: [{ name: name(9), size: 1000, checksum: `adler32:${adler32}`, url: url(9) }],
      },
      // the SE holds other bytes than were recorded
      {
        run: 10,
        run_type: 'Physics',
        subfiles: [{ name: name(10), size: 1000, checksum: `adler32:${adler32}`, url: url(10) }],
      },
      {
        run: 11,
        run_type: 'Physics',
        subfiles: [{ name: name(11), size: 1, checksum: 'adler32:00000001', url: dead }],
      },
    ]);
    const runs = (await db.allDocs<RunDoc>({ keys: ['run:9', 'run:10', 'run:11'], include_docs: true })).rows.flatMap(
      (row) => (row.doc ? [row.doc] : []),
    );
    await processRuns(db, runs, INFO, { label: 'proc', priority: 0, prereqPass: 'latest' });
    expect((await db.get<JobDoc>('job:NhitFilter:9')).passes[0]?.subjobs).toMatchObject([
      { index: 0, file: url(9), checksum: `adler32:${adler32}` },
    ]);
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 6 });
    const ctx = { ...context(db, 'input-site', backend, 6), mode: 'processing' as const };

    const ended = await runUntilEnded(ctx);
    expect(ended.map((doc) => `${doc._id} ${doc.passes[0]?.status} ${doc.passes[0]?.subjobs?.[0]?.exit_code}`)).toEqual(
      [
        'job:HitCount:10 failed 12',
        'job:HitCount:11 failed 12',
        'job:HitCount:9 completed 0',
        'job:NhitFilter:10 failed 12',
        'job:NhitFilter:11 failed 12',
        'job:NhitFilter:9 completed 0',
      ],
    );

    // rat read the local copy by -i, the script by GASP_INPUT; the copy went once they ended
    const read = jobFolderOf(ctx.workRoot, 'NhitFilter', 9);
    expect(readFileSync(join(read, 'job.out'), 'utf8')).toContain(
      `fake rat: read input inputs/${name(9)} (1000 bytes)`,
    );
    expect(readManifest(join(read, 'manifest.json'))?.input).toMatchObject({ url: url(9), size: 1000, adler32 });
    const data = await db.get<DataDoc>('data:HitCount:9:1:ntuple');
    expect(readFileSync(fileURLToPath(data.files[0]!.url), 'utf8')).toContain(`input=inputs/${name(9)} run=9`);
    for (const module of ['NhitFilter', 'HitCount'])
      expect(existsSync(join(jobFolderOf(ctx.workRoot, module, 9), 'inputs'))).toBe(false);

    // other bytes: one line naming both adler32s; rat never ran and no copy is left
    const wrong = jobFolderOf(ctx.workRoot, 'NhitFilter', 10);
    const copied = await adler32OfFile(join(se.data, dir, name(10)));
    const line = `input ${url(10)}: the copy's adler32 is ${copied}, the recorded adler32 is ${adler32}`;
    expect(readFileSync(join(wrong, 'job.err'), 'utf8').trim()).toBe(`gasp-job: ${line}`);
    expect(readManifest(join(wrong, 'manifest.json'))).toMatchObject({
      exit_code: 12,
      failed_stage: 'input',
      error: line,
    });
    expect(readFileSync(join(wrong, 'job.out'), 'utf8')).not.toContain('fake rat');
    expect(existsSync(join(wrong, 'inputs'))).toBe(false);

    // an SE that does not answer: one line naming the URL, at once rather than after XRootD's 8 minutes of retries
    const gone = jobFolderOf(ctx.workRoot, 'NhitFilter', 11);
    const manifest = readManifest(join(gone, 'manifest.json'));
    expect(manifest?.error).toMatch(
      /^input root:\/\/127\.0\.0\.1:1\/\/raw\/SNOP_11_0\.zdab: storage element unreachable \(.+\)$/,
    );
    expect(Date.parse(manifest?.finished ?? '') - Date.parse(manifest?.started ?? '')).toBeLessThan(30_000);
    expect(readFileSync(join(gone, 'job.out'), 'utf8')).not.toContain('fake rat');
  }, 180_000);
});

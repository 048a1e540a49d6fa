import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import { passFolder } from '../src/backends/prepare.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import type { JobDoc, ProcessingInfoDoc, RunDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { processRuns } from '../src/processing/process.js';
import { addRuns } from '../src/processing/runs.js';
import { gaspOn } from './support/cli.js';
import { testCouch, uniqueName } from './support/couch.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { completedData, context } from './support/jobs.js';

/** A script module and a macro module with an nhit cut, both per subfile of the fixture release. */
const INFO: ProcessingInfoDoc = {
  _id: 'processing_information_7_0_8',
  type: 'processing_information',
  rat_version: '7.0.8',
  modules: {
    HitCount: {
      type: 'script',
      level: 'sub_run',
      path: 'mac/processing/hit_count.sh',
      outputs: ['ntuple'],
      prerequisites: [],
      raw_processor: true,
      nhit_cut: 15,
    },
    NhitFilter: {
      level: 'sub_run',
      path: 'mac/processing/nhit_filter.mac',
      outputs: ['ntuple'],
      ganga_outputs: [{ call: 'PGSQLFile', args: { namePattern: 'NHIT_*.ratdb', dbName: 'ratdbtest' } }],
      prerequisites: [],
      raw_processor: true,
      nhit_cut: 20,
    },
  },
  run_types: { Physics: ['HitCount', 'NhitFilter'] },
};

describe('processing modules of type script', () => {
  it('run their script with bash in the RAT environment and the job folder, outputs recorded like a macro’s', async () => {
    const db = testCouch().use(uniqueName('script'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    await db.put(INFO);
    await addRuns(db, [{ run: 9, run_type: 'Physics', subfiles: [{ name: 'SNOP_9_0.zdab', size: 1, checksum: 'c' }] }]);
    const [run] = (await db.allDocs<RunDoc>({ keys: ['run:9'], include_docs: true })).rows.flatMap((row) =>
      row.doc ? [row.doc] : [],
    );
    await processRuns(db, [run!], INFO, { label: 'proc', priority: 0, prereqPass: 'latest' });
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 2 });
    const ctx = { ...context(db, 'script-site', backend), mode: 'processing' as const };

    const data = await completedData(ctx);
    const ntuple = data.find((doc) => doc.module === 'HitCount');
    expect(ntuple?.data_type).toBe('ntuple');
    expect(ntuple?.files.map((file) => file.name)).toEqual(['HitCount_r9_p1_s0.ntuple.root']);
    const jobFolder = join(
      passFolder(ctx.workRoot, 'proc', 'HitCount', 9, 1),
      readdirSync(passFolder(ctx.workRoot, 'proc', 'HitCount', 9, 1))[0]!,
    );
    const written = readFileSync(fileURLToPath(ntuple!.files[0]!.url), 'utf8').split('\n');
    expect(written.slice(1, 4)).toEqual([
      'input=SNOP_9_0.zdab run=9 nhit_cut=15',
      `rat=${join(FIXTURE_RELEASE, 'bin', 'rat')} ratroot=${FIXTURE_RELEASE}`,
      `folder=${jobFolder}`,
    ]);
    // the script ran from its copy, unfilled; no macro was made and rat never ran
    expect(readFileSync(join(jobFolder, 'job.sh'), 'utf8')).toBe(
      readFileSync(join(FIXTURE_RELEASE, 'mac/processing/hit_count.sh'), 'utf8'),
    );
    expect(existsSync(join(jobFolder, 'job.mac'))).toBe(false);
    expect(readFileSync(join(jobFolder, 'job.out'), 'utf8')).toContain(
      'hit_count: wrote HitCount_r9_p1_s0.ntuple.root',
    );

    // the macro module's ${nhit_cut} is its module's, recorded in the pass as its template
    const filter = await db.get<JobDoc>('job:NhitFilter:9');
    expect(filter.passes[0]?.template).toEqual({ nhit_cut: 20 });
    const filterFolder = passFolder(ctx.workRoot, 'proc', 'NhitFilter', 9, 1);
    const macro = readFileSync(join(filterFolder, readdirSync(filterFolder)[0]!, 'job.mac'), 'utf8');
    expect(macro).toContain('/rat/procset nhit_cut 20\n');
    expect(data.find((doc) => doc.module === 'NhitFilter')?.files.map((file) => file.name)).toEqual([
      'NhitFilter_r9_p1_s0.ntuple.root',
    ]);

    const show = await gaspOn(db, ['show', 'NhitFilter', '9', '--mode', 'processing']);
    expect(show.stdout).toContain('  RAT 7.0.8; macro mac/processing/nhit_filter.mac sha256 -\n');
    expect(show.stdout).toContain(
      '  processing module: macro; nhit_cut 20; ganga outputs (kept, not handled by gasp):\n    PGSQLFile(namePattern = "NHIT_*.ratdb", dbName = "ratdbtest")\n',
    );
    const script = await gaspOn(db, ['show', 'HitCount', '9', '--mode', 'processing']);
    expect(script.stdout).toContain('  processing module: script; nhit_cut 15; ganga outputs none\n');
  });
});

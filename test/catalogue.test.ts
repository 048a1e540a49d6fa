import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import type { ClientContext } from '../src/client/context.js';
import { recordData, type Manifest } from '../src/client/record.js';
import type { Database } from '../src/db/database.js';
import { listGrabFiles } from '../src/grab/list.js';
import { currentDataDoc, type StoredDataDoc } from '../src/model/data.js';
import { jobId, type DataDoc, type JobDoc, type Pass } from '../src/model/documents.js';
import { dataDocsOf } from '../src/shifter/data-docs.js';
import { writeMigrated } from '../src/shifter/migrate.js';
import { gaspOn, runGasp } from './support/cli.js';
import { useTestDatabase } from './support/couch.js';
import { context, databaseWithJobs, jobs } from './support/jobs.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SFU = 'root://se.sfu.example:1094//snoplus';
const RAL = 'root://se.ral.example:1094//snoplus';

let db: Database;
let job: JobDoc;
let pass: Pass;
let sfu: ClientContext;
let ral: ClientContext;

beforeAll(async () => {
  db = await databaseWithJobs(2, 'catalogue');
  const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 1 });
  const plain = context(db, 'sfu', backend);
  sfu = { ...plain, site: { ...plain.site, se: 'SFU-SE' } };
  ral = { ...plain, site: { ...plain.site, se: 'RAL-SE' } };
  [job] = (await jobs(db)) as [JobDoc];
  pass = job.passes[0] as Pass;
});

/** A wrapper's manifest of one output, `content` standing for its bytes (size, adler32, sha256). */
function manifest(storage: string, content: 'first' | 'second' = 'first'): Manifest {
  const file = `${job.module}_r${job.run}_p1_s0.root`;
  const bytes =
    content === 'first'
      ? { size: 1000, adler32: '0a0b0c0d', sha256: 'a'.repeat(64) }
      : { size: 1200, adler32: '1a1b1c1d', sha256: 'b'.repeat(64) };
  return {
    exit_code: 0,
    outputs: [
      { data_type: 'ratds', file, events: 10, url: `${storage}/enq/${job.module}/${job.run}/1/${file}`, ...bytes },
    ],
  };
}

const record = (ctx: ClientContext, storage: string, content?: 'first' | 'second') =>
  recordData(ctx, [{ doc: job, pass, manifests: [{ subjob: 0, manifest: manifest(storage, content) }] }]);
const dataId = () => `data:${job.module}:${job.run}:1:ratds`;

describe('the catalogue recordData keeps', () => {
  it('gives each file its LFN, a v4 uuid GUID, adler32, sha256, events and its SE as a replica; the same manifest again writes nothing', async () => {
    expect(await record(sfu, SFU)).toBe(1);
    const stored = await db.get<DataDoc>(dataId());
    const url = `${SFU}/enq/${job.module}/${job.run}/1/${job.module}_r${job.run}_p1_s0.root`;
    expect(stored.files).toEqual([
      {
        subjob: 0,
        name: `${job.module}_r${job.run}_p1_s0.root`,
        lfn: `/enq/${job.module}/${job.run}/1/${job.module}_r${job.run}_p1_s0.root`,
        guid: expect.stringMatching(UUID_V4),
        size: 1000,
        adler32: '0a0b0c0d',
        sha256: 'a'.repeat(64),
        events: 10,
        url,
        replicas: [{ se: 'SFU-SE', url }],
      },
    ]);
    expect(await record(sfu, SFU)).toBe(0);
    expect((await db.get<DataDoc>(dataId()))._rev).toBe(stored._rev);
  });

  it('adds a replica, keeping the GUID, when a second SE records the same bytes; either SE again writes nothing', async () => {
    const before = (await db.get<DataDoc>(dataId())).files[0];
    expect(await record(ral, RAL)).toBe(1);
    const after = await db.get<DataDoc>(dataId());
    expect(after.files[0]?.guid).toBe(before?.guid);
    expect(after.files[0]?.replicas.map((replica) => replica.se)).toEqual(['SFU-SE', 'RAL-SE']);
    expect(after.files[0]?.url).toBe(before?.url);
    expect(await record(sfu, SFU)).toBe(0);
    expect(await record(ral, RAL)).toBe(0);
    expect((await db.get<DataDoc>(dataId()))._rev).toBe(after._rev);
  });

  it('gives new bytes at the same LFN (a retried pass) a new GUID and only the copy just staged', async () => {
    const before = (await db.get<DataDoc>(dataId())).files[0];
    expect(await record(sfu, SFU, 'second')).toBe(1);
    const after = (await db.get<DataDoc>(dataId())).files[0];
    expect(after?.guid).toMatch(UUID_V4);
    expect(after?.guid).not.toBe(before?.guid);
    expect(after).toMatchObject({ size: 1200, adler32: '1a1b1c1d', lfn: before?.lfn });
    expect(after?.replicas).toEqual([{ se: 'SFU-SE', url: before?.url }]);
  });

  it('clears a missing mark on a copy the wrapper has just staged again', async () => {
    const stored = await db.get<DataDoc>(dataId());
    const file = stored.files[0] as DataDoc['files'][number];
    const marked = {
      ...file,
      replicas: file.replicas.map((replica) => ({ ...replica, missing: '2026-11-30T00:00:00Z' })),
    };
    await db.put({ ...stored, files: [marked] });
    expect(await record(sfu, SFU, 'second')).toBe(1);
    expect((await db.get<DataDoc>(dataId())).files[0]).toEqual(file);
  });
});

describe('data documents in the older form (no LFN or replicas, a GUID from the URL hash)', () => {
  const url = 'file:///storage/enq/PartialPo210/2/1/PartialPo210_r2_p1_s0.root';
  const older: StoredDataDoc = {
    _id: 'data:PartialPo210:2:1:ratds',
    type: 'data',
    module: 'PartialPo210',
    run: 2,
    pass: 1,
    label: 'enq',
    data_type: 'ratds',
    files: [
      {
        subjob: 0,
        name: 'PartialPo210_r2_p1_s0.root',
        guid: '5f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8',
        size: 2000,
        adler32: '00c0ffee',
        sha256: 'c'.repeat(64),
        events: 10,
        url,
      },
    ],
  };
  const current = {
    lfn: '/enq/PartialPo210/2/1/PartialPo210_r2_p1_s0.root',
    guid: '5f1c2a3b-4d5e-6f70-8192-a3b4c5d6e7f8',
    replicas: [{ se: 'file', url }],
  };
  beforeAll(async () => {
    await db.put(older);
  });

  it("are read by grab's list and gasp show in the current form, their GUID kept", async () => {
    const byLabel = await db.view<unknown[], number>('data', 'by_label', {
      key: ['enq', 'PartialPo210', 2, 1, 'ratds'],
    });
    expect(byLabel.rows.map((row) => row.value)).toEqual([1]);
    const [doc] = await dataDocsOf(db, [{ module: 'PartialPo210', run: 2, pass: 1 }]);
    expect(doc?.files[0]).toMatchObject(current);
    const listed = await listGrabFiles(db, { label: 'enq', statuses: ['waiting'] });
    expect(listed.files.find((file) => file.name === 'PartialPo210_r2_p1_s0.root')).toMatchObject({
      replicas: [{ se: 'file', url }],
      size: 2000,
    });
    const shown = await gaspOn(db, ['show', 'PartialPo210', '2']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(
      [
        '    ratds: PartialPo210_r2_p1_s0.root, 2000 bytes, 10 events',
        `      lfn ${current.lfn}`,
        `      guid ${current.guid}, adler32 00c0ffee, sha256 ${'c'.repeat(64)}`,
        `      replica file ${url}`,
      ].join('\n'),
    );
    const json = JSON.parse((await gaspOn(db, ['show', 'PartialPo210', '2', '--json'])).stdout) as { data: DataDoc[] };
    expect(json.data[0]?.files[0]).toMatchObject(current);
  });

  it('recording the same file again keeps the old GUID and writes nothing', async () => {
    const [second] = (await jobs(db)).filter((doc) => doc.run === 2);
    if (second === undefined) throw new Error('no run 2');
    const output = { data_type: 'ratds', file: 'PartialPo210_r2_p1_s0.root', events: 10, url, size: 2000 };
    const again: Manifest = { exit_code: 0, outputs: [{ ...output, adler32: '00c0ffee', sha256: 'c'.repeat(64) }] };
    const before = await db.get<DataDoc>(older._id);
    const plain = { ...sfu, site: { ...sfu.site, se: undefined } };
    const passes = [{ doc: second, pass: second.passes[0] as Pass, manifests: [{ subjob: 0, manifest: again }] }];
    expect(await recordData(plain, passes)).toBe(0);
    expect((await db.get<DataDoc>(older._id))._rev).toBe(before._rev);
  });
});

describe('gasp migrate', () => {
  const test = useTestDatabase('migrate');
  const OLDER = 1_203;

  /** An older data document of run `run`: one file, no LFN or replicas. */
  const olderDoc = (run: number): StoredDataDoc => ({
    _id: `data:WaterN16:${run}:1:ntuple`,
    type: 'data',
    module: 'WaterN16',
    run,
    pass: 1,
    label: 'water',
    data_type: 'ntuple',
    files: [
      {
        subjob: 0,
        name: `WaterN16_r${run}.ntuple.root`,
        guid: `00000000-0000-0000-0000-${String(run).padStart(12, '0')}`,
        size: run,
        adler32: '00000001',
        sha256: 'd'.repeat(64),
        events: 5,
        url: `root://se.example:1094//snoplus/water/WaterN16/${run}/1/WaterN16_r${run}.ntuple.root`,
      },
    ],
  });

  /** The job document of an older data document's run: its pass 1 ran RAT 7.0.8. */
  const jobOf = (run: number): JobDoc => ({
    _id: jobId('WaterN16', run),
    type: 'job',
    module: 'WaterN16',
    run,
    passes: [
      {
        pass: 1,
        status: 'completed',
        rat_version: '7.0.8',
        label: 'water',
        priority: 0,
        created: '2026-11-01T00:00:00Z',
        attempts: [],
      },
    ],
  });

  it('previews how many data documents would change, writes them with --yes as currentDataDoc reads them and with their RAT version, then finds nothing to do', async () => {
    const older = Array.from({ length: OLDER }, (_, index) => olderDoc(300000 + index));
    const today = { ...currentDataDoc(olderDoc(400000)).doc, rat_version: '7.0.8' };
    for (let start = 0; start < older.length; start += 500) {
      expect((await test.db.bulkDocs(older.slice(start, start + 500))).every((row) => row.ok)).toBe(true);
      const jobs = older.slice(start, start + 500).map((doc) => jobOf(doc.run));
      expect((await test.db.bulkDocs(jobs)).every((row) => row.ok)).toBe(true);
    }
    await test.db.put(today);
    const all = async () =>
      (await test.db.allDocs<DataDoc>({ startkey: 'data:', endkey: 'data:\ufff0', include_docs: true })).rows.flatMap(
        (row) => (row.doc ? [row.doc] : []),
      );
    const revs = (await all()).map((doc) => doc._rev);

    const preview = await gaspOn(test.db, ['migrate']);
    expect(preview.code).toBe(0);
    const lines = preview.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      `migrate: ${OLDER} of ${OLDER + 1} data documents in an older form: each gets what it lacks of its pass's RAT version (from the job document) and, for each file, its LFN and its URL as a replica; GUIDs, checksums and URLs stay`,
    );
    expect(lines[1]).toBe('  data:WaterN16:300000:1:ntuple');
    expect(lines.at(-2)).toBe(`  … and ${OLDER - 10} more`);
    expect(lines.at(-1)).toBe(`nothing changed: add --yes to migrate these ${OLDER}`);
    expect((await all()).map((doc) => doc._rev)).toEqual(revs);

    const applied = await gaspOn(test.db, ['migrate', '--yes']);
    expect(applied.code).toBe(0);
    expect(applied.stdout.trim().split('\n').at(-1)).toBe(
      `migrate: wrote ${OLDER} of ${OLDER} data documents; recorded in the audit`,
    );
    const written = await all();
    const strip = ({ _rev, ...doc }: DataDoc) => doc;
    const versioned = older.map((doc) => ({ ...currentDataDoc(doc).doc, rat_version: '7.0.8' }));
    expect(written.map(strip)).toEqual([...versioned, today].map(strip));
    // the one already in today's form is left as it was
    expect(written.at(-1)?._rev).toBe(revs.at(-1));
    const audit = await test.db.allDocs<{ tool: string; did: string }>({
      startkey: 'audit:',
      endkey: 'audit:\ufff0',
      include_docs: true,
    });
    expect(audit.rows.map((row) => [row.doc?.tool, row.doc?.did])).toEqual([
      ['migrate', `migrated ${OLDER} data documents`],
    ]);

    const again = await gaspOn(test.db, ['migrate', '--yes']);
    expect(again.stdout.trim()).toBe(
      `migrate: ${OLDER + 1} data documents read, all in the current form: nothing to do`,
    );
    expect((await all()).map((doc) => doc._rev)).toEqual(written.map((doc) => doc._rev));
  }, 60_000);

  it("reads a document changed meanwhile again and migrates what it holds now; one its writer brought to today's form is left alone", async () => {
    const [changed, brought] = [olderDoc(500000), olderDoc(500001)];
    for (const doc of [changed, brought]) await test.db.put(doc);
    const stale = await Promise.all([changed, brought].map((doc) => test.db.get<StoredDataDoc>(doc._id)));
    // other writers, after migrate read them: one still in the older form, one rewritten in today's
    const events = { ...stale[0], files: stale[0]?.files.map((file) => ({ ...file, events: 99 })) } as StoredDataDoc;
    await test.db.put(events);
    await test.db.put(currentDataDoc(stale[1] as StoredDataDoc).doc);
    const broughtRev = (await test.db.get(brought._id))._rev;
    const result = await writeMigrated(
      test.db,
      stale.map((doc) => currentDataDoc(doc).doc),
    );
    expect(result).toEqual({ written: 1, unwritten: [] });
    const now = await test.db.get<DataDoc>(changed._id);
    const { _rev, ...expected } = currentDataDoc(events).doc;
    expect(now).toMatchObject(expected);
    expect(now.files[0]?.events).toBe(99);
    expect((await test.db.get(brought._id))._rev).toBe(broughtRev);
  });

  it('says what it does and how to run it in --help, and gives one line when the database is unreachable', async () => {
    const help = await runGasp(['migrate', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Only data documents change');
    expect(help.stdout).toContain('  gasp migrate --yes');
    const down = await runGasp(['migrate'], {
      env: { GASP_COUCHDB_URL: 'http://127.0.0.1:9', GASP_COUCHDB_DATABASE: 'data-production' },
      cwd: mkdtempSync(join(tmpdir(), 'gasp-migrate-')),
    });
    expect(down.code).toBe(1);
    // the retries are logged as they happen; the error itself is one line, no stack trace
    const last = down.stderr.trim().split('\n').at(-1);
    expect(last).toMatch(/^no answer from CouchDB: .*127\.0\.0\.1:9\/data-production\/.*; gave up after \d+ tries/);
    expect(down.stderr).not.toMatch(/^\s+at /m);
  }, 60_000);
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalBackend } from '../src/backends/local.js';
import type { ClientContext } from '../src/client/context.js';
import { DEFAULT_INTERNAL_RATE_GENERATORS, DEFAULT_PHASES } from '../src/config/config.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs, type DesignDoc } from '../src/db/design-docs.js';
import { currentDataDoc, usableReplicas, type StoredDataDoc } from '../src/model/data.js';
import { labelsOf } from '../src/model/label.js';
import { jobId, productionInfoId, type DataDoc, type DataFile } from '../src/model/documents.js';
import { BUNDLED_VIEWS, FIXTURE_RELEASE } from '../src/paths.js';
import { makeProductionInfo } from '../src/production/production-info.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { gaspOn } from './support/cli.js';
import { testCouch, uniqueName } from './support/couch.js';
import { gridToolsUrl, gridToolsView, type ViewRow } from './support/gridtools.js';
import { completedData, context } from './support/jobs.js';

/**
 * A small campaign run to completion through the client and the local backend, then listed as
 * SNO+'s GridTools lists outputs: the same GET requests to the proddata views, checked against the
 * data documents. Two modules (one in run_number mode: runs 100 and 101 of two subruns each), three
 * labels, two passes of run 100 (RAT 7.0.8, then 7.0.9), two data types; and two documents of an
 * older form, one with a list of labels.
 */
const BI = 'TeloadedPeryleneBi214';
const PO = 'PartialPo210';
const SFU = 'root://se.sfu.example:1094//snoplus';
const PRODDATA = '_design/proddata/_view/';

let db: Database;
/** Every data document as stored. */
let stored: StoredDataDoc[];

async function submit(request: object): Promise<void> {
  const file = join(mkdtempSync(join(tmpdir(), 'gasp-gridtools-')), 'jobs.json');
  writeFileSync(file, JSON.stringify(request));
  await submitRequestFile(db, file);
}

/** A site of the fixture release that has RAT 7.0.9 too (the same set-up as 7.0.8). */
function twoVersionSite(ctx: ClientContext): ClientContext {
  const versions = new Map(ctx.site.rat.versions);
  const v708 = versions.get('7.0.8');
  if (v708 === undefined) throw new Error('the fixture site lost RAT 7.0.8');
  versions.set('7.0.9', { ...v708, version: '7.0.9' });
  return { ...ctx, site: { ...ctx.site, rat: { ...ctx.site.rat, versions } } };
}

async function runCampaign(): Promise<DataDoc[]> {
  // as with [production.modes] TeloadedPeryleneBi214 = run_number: a job per listed run, a subjob per ev_per_run
  const production = {
    phases: [...DEFAULT_PHASES],
    internalRateGenerators: [...DEFAULT_INTERNAL_RATE_GENERATORS],
    modeOverrides: [{ pattern: BI, mode: 'run_number' as const }],
  };
  const info = makeProductionInfo({ ratDir: FIXTURE_RELEASE, production }).doc;
  await db.bulkDocs([info, { ...info, _id: productionInfoId('7.0.9'), rat_version: '7.0.9' }]);
  const bi214 = { module: BI, template: { geometry: 'te0p5', fill_volume: 'inner_av' }, n_ev: 20, ev_per_run: 10 };
  await submit({
    rat_v: '7.0.8',
    modules: [
      { ...bi214, label: 'gt-tel', run_numbers: [100, 101] },
      { module: PO, label: 'gt-po', n_ev: 20, ev_per_run: 10, template: { fill_volume: 'lower' } },
    ],
  });
  await submit({ rat_v: '7.0.9', modules: [{ ...bi214, label: 'gt-tel-new', run_numbers: [100] }] });
  const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 8 });
  return completedData(twoVersionSite(context(db, 'gt-site', backend, 8)));
}

/** A WaterN16 file as documents before LFNs and replicas held it. */
const olderFile = (run: number, subjob: number) => ({
  subjob,
  name: `WaterN16_r${run}_s${subjob}.ntuple.root`,
  guid: `00000000-0000-4000-8000-00000000000${subjob}`,
  size: 100 + subjob,
  adler32: `0000000${subjob}`,
  sha256: 'e'.repeat(64),
  events: 5,
  url: `${SFU}/gt-old/WaterN16/${run}/1/WaterN16_r${run}_s${subjob}.ntuple.root`,
});

/** After the campaign: a second copy of one file, a file whose only copy is gone, and older documents. */
async function addCopiesAndOlderDocuments(campaign: DataDoc[]): Promise<void> {
  const [first, second] = campaign.filter((doc) => doc.module === PO);
  if (first === undefined || second === undefined) throw new Error('the campaign made no two Po210 documents');
  const gone = (file: DataFile): DataFile => ({
    ...file,
    replicas: file.replicas.map((replica) => ({ ...replica, missing: '2026-11-30T00:00:00Z' })),
  });
  const copied = (file: DataFile): DataFile => ({
    ...gone(file),
    replicas: [...gone(file).replicas, { se: 'SFU-SE', url: `${SFU}${file.lfn}` }],
  });
  const labels = ['gt-old', 'gt-old-alias'];
  const older = { type: 'data', module: 'WaterN16', pass: 1, data_type: 'ntuple' };
  const rows = await db.bulkDocs<{ _id: string; [field: string]: unknown }>([
    { ...first, files: first.files.map(copied) },
    { ...second, files: second.files.map(gone) },
    { ...older, _id: 'data:WaterN16:5:1:ntuple', run: 5, label: labels, files: [olderFile(5, 0), olderFile(5, 1)] },
    { ...older, _id: 'data:WaterN16:6:1:ntuple', run: 6, label: 'gt-old', files: [olderFile(6, 0)] },
    // the older job of run 5: its labels as a list, its RAT version for gasp migrate
    {
      _id: jobId('WaterN16', 5),
      type: 'job',
      module: 'WaterN16',
      run: 5,
      passes: [{ pass: 1, status: 'completed', rat_version: '6.17.0', label: labels, priority: 0, attempts: [] }],
    },
  ]);
  expect(rows.every((row) => row.ok)).toBe(true);
}

async function readDataDocs(): Promise<StoredDataDoc[]> {
  const all = await db.allDocs<StoredDataDoc>({ startkey: 'data:', endkey: 'data:\ufff0', include_docs: true });
  return all.rows.flatMap((row) => (row.doc ? [row.doc] : []));
}

beforeAll(async () => {
  db = testCouch({ retry: { attempts: 5, baseMs: 50, maxMs: 200 } }).use(uniqueName('gridtools'));
  await db.create();
  await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
  await addCopiesAndOlderDocuments(await runCampaign());
  // one more pass, left waiting, for the monitoring view
  await submit({
    rat_v: '7.0.9',
    modules: [{ module: PO, label: 'gt-wait', n_ev: 10, ev_per_run: 10, template: { fill_volume: 'lower' } }],
  });
  stored = await readDataDocs();
}, 120_000);

afterAll(async () => {
  await db.destroy();
});

/** What GridTools should list: a file per label of its document, with its copies not known gone (a file with none is not listed). */
interface Listed {
  doc: DataDoc;
  label: string;
  file: DataFile;
  surls: string[];
}

function listedFiles(docs: readonly StoredDataDoc[]): Listed[] {
  return docs.flatMap((raw) => {
    // an older document's LFN is made under its first label
    const doc = currentDataDoc(raw).doc;
    return labelsOf(doc.label).flatMap((label) =>
      doc.files
        .map((file) => ({ doc, label, file, surls: usableReplicas(file).map((replica) => replica.url) }))
        .filter((listed) => listed.surls.length > 0),
    );
  });
}

/** The rows of each view, as their map functions should emit them. */
const fullValue = ({ file, surls }: Listed) => [file.name, file.size, file.guid, file.lfn, surls, file.adler32];
const EXPECTED: Record<string, (listed: Listed) => ViewRow> = {
  data_by_mod_pass_sr: (l) => ({
    id: l.doc._id,
    key: [l.doc.data_type, l.doc.module, l.doc.rat_version, l.doc.pass, l.doc.run, l.file.subjob],
    value: fullValue(l),
  }),
  data_by_mod_ratv_run: (l) => ({
    id: l.doc._id,
    key: [l.doc.data_type, l.doc.module, l.doc.rat_version, l.doc.run, l.file.subjob, l.doc.pass],
    value: fullValue(l),
  }),
  data_by_mod_run: (l) => ({
    id: l.doc._id,
    key: [l.doc.data_type, l.doc.module, l.doc.run, l.file.subjob, l.doc.pass],
    value: fullValue(l),
  }),
  data_by_label: (l) => ({
    id: l.doc._id,
    key: [l.doc.data_type, l.label, l.doc.module, l.doc.run, l.file.subjob],
    value: [l.file.name, l.file.guid, l.file.adler32, l.file.size, l.surls],
  }),
  data_by_label_mod_run: (l) => ({
    id: l.doc._id,
    key: [l.doc.data_type, l.label, l.doc.module, l.doc.run, l.file.subjob, l.doc.pass],
    value: fullValue(l),
  }),
};

const inKeyOrder = (rows: readonly ViewRow[]) =>
  [...rows].sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key)));

/** The rows `view` should give for the files `which` selects (documents without a RAT version are in no view by version). */
function expectedRows(view: string, which: (listed: Listed) => boolean): ViewRow[] {
  const row = EXPECTED[view];
  if (row === undefined) throw new Error(`no expected rows for ${view}`);
  const byVersion = view.includes('ratv') || view === 'data_by_mod_pass_sr';
  const files = listedFiles(stored).filter((l) => (!byVersion || l.doc.rat_version !== undefined) && which(l));
  return inKeyOrder(files.map(row));
}

/** A reduce=false query of GridTools, rows in key order. */
async function listRows(view: string, options: Record<string, unknown>): Promise<ViewRow[]> {
  const rows = await gridToolsView(db, `${PRODDATA}${view}`, { ...options, reduce: false });
  return inKeyOrder(rows);
}

/** A grouped count, as `[key, count]` pairs. */
async function counts(view: string, options: Record<string, unknown>): Promise<Array<[unknown[], unknown]>> {
  const rows = await gridToolsView(db, `${PRODDATA}${view}`, { reduce: true, ...options });
  return rows.map((row) => [row.key, row.value]);
}

describe('GridTools --labels, --versions and --modules', () => {
  it('--labels lists every label with its files, an older list of labels under each; -m keeps those of one module', async () => {
    const labels = { startkey: ['ntuple'], endkey: ['ntuple', {}] };
    // json.dumps, then urlencode: what production_list sends
    expect(gridToolsUrl(db, `${PRODDATA}data_by_label`, { ...labels, group_level: 2 })).toBe(
      `${inject('couchUrl')}/${db.name}/_design/proddata/_view/data_by_label?startkey=%5B%22ntuple%22%5D&endkey=%5B%22ntuple%22%2C+%7B%7D%5D&group_level=2`,
    );
    expect(await counts('data_by_label', { ...labels, group_level: 2 })).toEqual([
      [['ntuple', 'gt-old'], 3],
      [['ntuple', 'gt-old-alias'], 2],
      [['ntuple', 'gt-tel'], 4],
      [['ntuple', 'gt-tel-new'], 2],
    ]);
    const ofModule = await counts('data_by_label', { startkey: ['ratds'], endkey: ['ratds', {}], group_level: 3 });
    expect(ofModule.filter(([key]) => key[2] === BI)).toEqual([
      [['ratds', 'gt-tel', BI], 4],
      [['ratds', 'gt-tel-new', BI], 2],
    ]);
    // Po210's run 2 has no copy left: only run 1 is listed
    expect(ofModule.filter(([key]) => key[2] === PO)).toEqual([[['ratds', 'gt-po', PO], 1]]);
  });

  it('--versions lists the RAT versions of a data type, and -m those of one module; documents without one are not counted', async () => {
    const versions = await counts('data_by_mod_pass_sr', {
      startkey: ['ntuple'],
      endkey: ['ntuple', {}],
      group_level: 3,
    });
    expect(versions).toEqual([
      [['ntuple', BI, '7.0.8'], 4],
      [['ntuple', BI, '7.0.9'], 2],
    ]);
    // -m: the query and filter get_versions means (its code asks for a view named '%s_by_mod_pass_sr', never filled in)
    const ratds = await counts('data_by_mod_pass_sr', { startkey: ['ratds'], endkey: ['ratds', {}], group_level: 3 });
    expect(ratds.filter(([key]) => key[1] === PO).map(([key]) => key[2])).toEqual(['7.0.8']);
  });

  it('--modules lists the modules of a data type, of a label, or of a RAT version, with their file counts', async () => {
    const ratds = { startkey: ['ratds'], endkey: ['ratds', {}] };
    expect(await counts('data_by_mod_pass_sr', { ...ratds, group_level: 2 })).toEqual([
      [['ratds', PO], 1],
      [['ratds', BI], 6],
    ]);
    // --label: the query get_modules means (its code first formats the view name with the data type, which Python refuses)
    const ofLabel = { startkey: ['ntuple', 'gt-old-alias'], endkey: ['ntuple', 'gt-old-alias', {}], group_level: 3 };
    expect(await counts('data_by_label', ofLabel)).toEqual([[['ntuple', 'gt-old-alias', 'WaterN16'], 2]]);
    const ofVersion = await counts('data_by_mod_pass_sr', { ...ratds, group: true, group_level: 3 });
    expect(ofVersion.filter(([key]) => key[2] === '7.0.9')).toEqual([[['ratds', BI, '7.0.9'], 2]]);
  });
});

describe('GridTools file lists', () => {
  it('lists a label module by module (data_by_label, data_by_label_mod_run), all runs or a run range', async () => {
    const modules = await counts('data_by_label', {
      group: true,
      group_level: 3,
      startkey: ['ratds', 'gt-tel'],
      endkey: ['ratds', 'gt-tel', {}],
    });
    expect(modules.map(([key]) => key[2])).toEqual([BI]);
    const ofLabel = (l: Listed) => l.doc.data_type === 'ratds' && l.label === 'gt-tel' && l.doc.module === BI;
    const all = await listRows('data_by_label', {
      startkey: ['ratds', 'gt-tel', BI],
      endkey: ['ratds', 'gt-tel', BI, {}],
    });
    expect(all).toEqual(expectedRows('data_by_label', ofLabel));
    expect(all.map((row) => [row.key[3], row.key[4]])).toEqual([
      [100, 0],
      [100, 1],
      [101, 0],
      [101, 1],
    ]);
    // the older production_list: run_range inclusive, as [lo] to [hi + 1]
    const range = await listRows('data_by_label', {
      startkey: ['ratds', 'gt-tel', BI, 101],
      endkey: ['ratds', 'gt-tel', BI, 102],
    });
    expect(range).toEqual(expectedRows('data_by_label', (l) => ofLabel(l) && l.doc.run === 101));
    // the newer one: [lo] to [hi], whose last run it leaves out
    const newer = await listRows('data_by_label_mod_run', {
      startkey: ['ratds', 'gt-tel', BI, 100],
      endkey: ['ratds', 'gt-tel', BI, 101],
    });
    expect(newer).toEqual(expectedRows('data_by_label_mod_run', (l) => ofLabel(l) && l.doc.run === 100));
    expect(newer.map((row) => (row.value as unknown[])[0])).toEqual([`${BI}_r100_p1_s0.root`, `${BI}_r100_p1_s1.root`]);
  });

  it('lists a RAT version module by module (data_by_mod_pass_sr, data_by_mod_ratv_run): each file with its size, GUID, LFN, URLs and adler32', async () => {
    const modules = await counts('data_by_mod_pass_sr', {
      group: true,
      group_level: 3,
      startkey: ['ntuple'],
      endkey: ['ntuple', {}],
    });
    expect(modules.filter(([key]) => key[2] === '7.0.8').map(([key]) => key[1])).toEqual([BI]);
    const of708 = (l: Listed) => l.doc.data_type === 'ntuple' && l.doc.module === BI && l.doc.rat_version === '7.0.8';
    const older = await listRows('data_by_mod_pass_sr', {
      startkey: ['ntuple', BI, '7.0.8'],
      endkey: ['ntuple', BI, '7.0.8', {}],
    });
    expect(older).toEqual(expectedRows('data_by_mod_pass_sr', of708));
    expect(older).toHaveLength(4);
    const [row] = older;
    const doc = stored.find((candidate) => candidate._id === row?.id);
    const file = doc?.files.find((candidate) => candidate.name === (row?.value as unknown[])[0]);
    expect(row?.value).toEqual([file?.name, file?.size, file?.guid, file?.lfn, [file?.url], file?.adler32]);
    const newer = await listRows('data_by_mod_ratv_run', {
      startkey: ['ntuple', BI, '7.0.8', 101],
      endkey: ['ntuple', BI, '7.0.8', 102],
    });
    expect(newer).toEqual(expectedRows('data_by_mod_ratv_run', (l) => of708(l) && l.doc.run === 101));
  });

  it('lists --exactly a module, run and pass from data_by_mod_run, every pass of the run keyed by pass', async () => {
    const rows = await listRows('data_by_mod_run', { startkey: ['ratds', BI, 100], endkey: ['ratds', BI, 100, {}] });
    expect(rows).toEqual(expectedRows('data_by_mod_run', (l) => l.doc.data_type === 'ratds' && l.doc.run === 100));
    expect(rows.map((row) => [row.key[3], row.key[4]])).toEqual([
      [0, 1],
      [0, 2],
      [1, 1],
      [1, 2],
    ]);
    // GridTools keeps the rows of the pass asked for (key[-1])
    expect(rows.filter((row) => row.key.at(-1) === 2).map((row) => (row.value as unknown[])[0])).toEqual([
      `${BI}_r100_p2_s0.root`,
      `${BI}_r100_p2_s1.root`,
    ]);
  });

  it('gives only the copies not marked missing, and leaves out a file with none', async () => {
    const rows = await listRows('data_by_label', { startkey: ['ratds', 'gt-po'], endkey: ['ratds', 'gt-po', {}] });
    expect(rows.map((row) => [row.key[3], (row.value as unknown[])[4]])).toEqual([
      [1, [`${SFU}/gt-po/${PO}/1/1/${PO}_r1_p1_s0.root`]],
    ]);
  });

  it('lists an older document (no LFN, replicas or RAT version; a list of labels) under each label, with its URL and an LFN under its first label', async () => {
    for (const label of ['gt-old', 'gt-old-alias']) {
      const rows = await listRows('data_by_label_mod_run', {
        startkey: ['ntuple', label, 'WaterN16', 5],
        endkey: ['ntuple', label, 'WaterN16', 6],
      });
      expect(rows.map((row) => row.value)).toEqual(
        [0, 1].map((subjob) => {
          const file = olderFile(5, subjob);
          const lfn = `/gt-old/WaterN16/5/1/${file.name}`;
          return [file.name, file.size, file.guid, lfn, [file.url], file.adler32];
        }),
      );
    }
    const byModule = await listRows('data_by_mod_pass_sr', {
      startkey: ['ntuple', 'WaterN16'],
      endkey: ['ntuple', 'WaterN16', {}],
    });
    expect(byModule).toEqual([]);
  });
});

describe('the SNO+ monitoring view dproc/job_passes_by_status_module_reduce', () => {
  const view = '_design/dproc/_view/job_passes_by_status_module_reduce';

  it('counts passes per status (group_level 1) and per status and module (2); a list of labels counts once, under its first', async () => {
    const grouped = async (level: number) =>
      (await gridToolsView(db, view, { reduce: true, group_level: level })).map((row) => [row.key, row.value]);
    expect(await grouped(1)).toEqual([
      [['completed'], 6],
      [['waiting'], 1],
    ]);
    expect(await grouped(2)).toEqual([
      [['completed', PO], 2],
      [['completed', BI], 3],
      [['completed', 'WaterN16'], 1],
      [['waiting', PO], 1],
    ]);
    expect(await grouped(4)).toEqual([
      [['completed', PO, '7.0.8', 'gt-po'], 2],
      [['completed', BI, '7.0.8', 'gt-tel'], 2],
      [['completed', BI, '7.0.9', 'gt-tel-new'], 1],
      [['completed', 'WaterN16', '6.17.0', 'gt-old'], 1],
      [['waiting', PO, '7.0.9', 'gt-wait'], 1],
    ]);
  });
});

describe('gasp migrate and the views by RAT version', () => {
  it("gives a data document without a RAT version its pass's from the job document, and names one whose job document is gone", async () => {
    const po = stored.find((doc) => doc.module === PO && doc.run === 1);
    if (po === undefined) throw new Error('no Po210 run 1 document');
    const { rat_version: _version, ...unversioned } = po;
    await db.put(unversioned);
    const before = await counts('data_by_mod_pass_sr', {
      startkey: ['ratds', PO],
      endkey: ['ratds', PO, {}],
      group_level: 3,
    });
    expect(before).toEqual([]);

    const migrated = await gaspOn(db, ['migrate', '--yes']);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout.trim().split('\n')).toEqual([
      `migrate: 3 of ${stored.length} data documents in an older form: each gets what it lacks of its pass's RAT version (from the job document) and, for each file, its LFN and its URL as a replica; GUIDs, checksums and URLs stay`,
      `  ${po._id}`,
      '  data:WaterN16:5:1:ntuple',
      '  data:WaterN16:6:1:ntuple',
      "migrate: 1 data document without a RAT version that no job document gives (left so; GridTools' lists by RAT version leave them out)",
      '  data:WaterN16:6:1:ntuple',
      'migrate: wrote 3 of 3 data documents; recorded in the audit',
    ]);
    expect((await db.get<DataDoc>(po._id)).rat_version).toBe('7.0.8');
    expect(
      await counts('data_by_mod_pass_sr', { startkey: ['ratds', PO], endkey: ['ratds', PO, {}], group_level: 3 }),
    ).toEqual([[['ratds', PO, '7.0.8'], 1]]);
    const water = await listRows('data_by_mod_ratv_run', {
      startkey: ['ntuple', 'WaterN16'],
      endkey: ['ntuple', 'WaterN16', {}],
    });
    expect(water.map((row) => [row.key[2], row.key[3], row.key[4]])).toEqual([
      ['6.17.0', 5, 0],
      ['6.17.0', 5, 1],
    ]);
  }, 60_000);
});

describe('gasp views push into a database that ran GASP', () => {
  const foreign = (name: string) => ({ map: `function (doc) { emit(doc.${name}, null); }` });

  it('keeps the views of proddata and dproc that gasp does not define, replaces those it does, and writes nothing the second time', async () => {
    const other = testCouch().use(uniqueName('gridtools-push'));
    await other.create();
    try {
      const proddata = {
        _id: '_design/proddata',
        language: 'javascript',
        views: { data_by_run_type: foreign('run_type'), data_by_label: foreign('label') },
        lists: { grabber: 'function (head, req) {}' },
      };
      const dproc = { _id: '_design/dproc', language: 'javascript', views: { jobs_by_site: foreign('site') } };
      const gaspOwn = { _id: '_design/data', language: 'javascript', views: { stale: foreign('stale') } };
      await other.bulkDocs<DesignDoc & { lists?: object }>([proddata, dproc, gaspOwn] as DesignDoc[]);
      const ours = loadDesignDocs(BUNDLED_VIEWS);
      const pushed = await pushDesignDocs(other, ours);
      expect(pushed.filter((result) => result.outcome === 'updated').map((result) => result.id)).toEqual([
        '_design/data',
        '_design/dproc',
        '_design/proddata',
      ]);
      const viewsOf = async (id: string) => await other.get<DesignDoc & { lists?: object }>(id);
      const gaspProddata = ours.find((doc) => doc._id === '_design/proddata');
      const storedProddata = await viewsOf('_design/proddata');
      expect(Object.keys(storedProddata.views).sort()).toEqual(
        ['data_by_run_type', ...Object.keys(gaspProddata?.views ?? {})].sort(),
      );
      expect(storedProddata.views.data_by_run_type).toEqual(proddata.views.data_by_run_type);
      expect(storedProddata.views.data_by_label).toEqual(gaspProddata?.views.data_by_label);
      expect(storedProddata.lists).toEqual(proddata.lists);
      expect(Object.keys((await viewsOf('_design/dproc')).views).sort()).toEqual([
        'job_passes_by_status_module_reduce',
        'jobs_by_site',
      ]);
      // gasp's own design documents are replaced whole: a view gone from views/ goes
      expect(Object.keys((await viewsOf('_design/data')).views)).not.toContain('stale');
      await other.put({ _id: 'run:1', type: 'run', run_type: 'Physics' });
      const kept = await other.view<string, null>('proddata', 'data_by_run_type', {});
      expect(kept.rows.map((row) => row.key)).toEqual(['Physics']);
      const again = await pushDesignDocs(other, ours);
      expect(again.every((result) => result.outcome === 'unchanged')).toBe(true);
    } finally {
      await other.destroy();
    }
  });
});

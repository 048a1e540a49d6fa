import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { buildIndex, loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { UnreachableError } from '../src/db/errors.js';
import { InputError } from '../src/errors.js';
import type { DataDoc, JobDoc, Pass, ProductionInfoDoc } from '../src/model/documents.js';
import { jobId, productionInfoId } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { runGasp } from './support/cli.js';
import { couchEnv, testCouch, uniqueName, useTestDatabase } from './support/couch.js';

const test = useTestDatabase('views');

function pass(fields: Partial<Pass> & Pick<Pass, 'status'>): Pass {
  return {
    pass: 1,
    rat_version: '7.0.8',
    label: 'mc-2026',
    priority: 0,
    created: '2026-11-01T00:00:00Z',
    attempts: [],
    ...fields,
  };
}

function job(module: string, run: number, passes: Pass[]): JobDoc {
  return { _id: jobId(module, run), type: 'job', module, run, passes };
}

describe('gasp views push', () => {
  it('writes nothing the second time and says "unchanged"', async () => {
    const docs = loadDesignDocs(BUNDLED_VIEWS);
    const first = await pushDesignDocs(test.db, docs);
    expect(first.map((result) => result.outcome)).toEqual(docs.map(() => 'created'));
    const revs = await Promise.all(docs.map(async (doc) => (await test.db.get(doc._id))._rev));
    const second = await pushDesignDocs(test.db, docs);
    expect(second.map((result) => result.outcome)).toEqual(docs.map(() => 'unchanged'));
    expect(await Promise.all(docs.map(async (doc) => (await test.db.get(doc._id))._rev))).toEqual(revs);
  });

  it('updates only the design document whose view changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-views-'));
    cpSync(BUNDLED_VIEWS, dir, { recursive: true });
    const map = join(dir, 'jobs', 'views', 'by_label', 'map.js');
    writeFileSync(map, readFileSync(map, 'utf8').replace('pass.status);', 'pass.status );'));
    const results = await pushDesignDocs(test.db, loadDesignDocs(dir));
    expect(
      results.filter((result) => result.outcome !== 'unchanged').map((result) => [result.id, result.outcome]),
    ).toEqual([['_design/jobs', 'updated']]);
    await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
  });

  it('pushes to the databases of both config files by default', async () => {
    // the standard names: on a server of its own, never the shared (maybe a real) one
    const dir = mkdtempSync(join(tmpdir(), 'gasp-views-db-'));
    const server = await EmbeddedServer.start({ dir });
    try {
      const env = { GASP_COUCHDB_URL: server.url.origin };
      const result = await runGasp(['views', 'push', '--create'], { env });
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('data-production _design/passes: created');
      expect(result.stdout).toContain('data-processing _design/passes: created');
      const onlyProcessing = await runGasp(['views', 'push', '--mode', 'processing'], { env });
      expect(onlyProcessing.stdout).not.toContain('data-production');
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a view that does not compile, naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gasp-views-'));
    cpSync(BUNDLED_VIEWS, dir, { recursive: true });
    const map = join(dir, 'jobs', 'views', 'by_label', 'map.js');
    writeFileSync(map, 'function (doc) { emit(doc._id ');
    expect(() => loadDesignDocs(dir)).toThrow(InputError);
    expect(() => loadDesignDocs(dir)).toThrow(`${map}: does not compile`);
  });

  it("keeps view sources to ES5, which CouchDB 3's JavaScript engine runs", () => {
    for (const doc of loadDesignDocs(BUNDLED_VIEWS)) {
      for (const [name, view] of Object.entries(doc.views)) {
        for (const source of [view.map, view.reduce ?? '']) {
          expect(source, `${doc._id}/${name}`).not.toMatch(/=>|\blet\b|\bconst\b|`|\.\.\./);
        }
      }
    }
    expect(readdirSync(BUNDLED_VIEWS).sort()).toEqual([
      'data',
      'dproc',
      'info',
      'jobs',
      'passes',
      'proddata',
      'runs',
      'sites',
      'summary',
    ]);
  });

  it('says "unchanged" the second time from the command line', async () => {
    const name = uniqueName('push-cli');
    const env = couchEnv();
    const args = ['views', 'push', '-c', 'config/production.cfg', '--db', name, '--create'];
    const first = await runGasp(args, { env });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`${name} _design/passes: created`);
    const second = await runGasp(args, { env });
    expect(second.code).toBe(0);
    expect(second.stdout.trim().split('\n')).toEqual(
      ['data', 'dproc', 'info', 'jobs', 'passes', 'proddata', 'runs', 'sites', 'summary'].map(
        (ddoc) => `${name} _design/${ddoc}: unchanged`,
      ),
    );
    const map = join(mkdtempSync(join(tmpdir(), 'gasp-views-')), 'views');
    cpSync(BUNDLED_VIEWS, map, { recursive: true });
    writeFileSync(
      join(map, 'jobs', 'views', 'by_label', 'map.js'),
      readFileSync(join(map, 'jobs', 'views', 'by_label', 'map.js'), 'utf8').replace('pass.status);', 'pass.status );'),
    );
    const waited = await runGasp(['views', 'push', '--db', name, '--dir', map, '--wait'], { env });
    expect(waited.code).toBe(0);
    expect(waited.stdout).toMatch(
      new RegExp(
        `${name} _design/jobs: updated; building its 3 views now\\n  indexing ${name} jobs/by_label: done in \\d+\\.\\d s\\n`,
      ),
    );
    expect(waited.stdout.match(/ {2}indexing .* done in/g)).toHaveLength(3);
    await testCouch().use(name).destroy();
    const absent = uniqueName('absent');
    const missing = await runGasp(['views', 'push', '--db', absent], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(
      `database "${absent}" does not exist on ${inject('couchUrl')} (create it, or pass --create)`,
    );
  });
});

describe('views on seeded documents', () => {
  beforeAll(async () => {
    await pushDesignDocs(test.db, loadDesignDocs(BUNDLED_VIEWS));
    const docs: Array<JobDoc | DataDoc | ProductionInfoDoc> = [
      job('TeloadedBi214', 300000, [
        pass({ status: 'completed', site: 'ral', label: 'bi-2026' }),
        pass({ pass: 2, status: 'waiting', priority: 5, created: '2026-11-03T00:00:00Z', label: 'bi-2026' }),
      ]),
      job('TeloadedBi214', 300001, [
        pass({ status: 'waiting', priority: 5, created: '2026-11-02T00:00:00Z', label: 'bi-2026' }),
      ]),
      job('WaterN16', 299999, [
        pass({ status: 'waiting', priority: 1, created: '2026-11-04T00:00:00Z', rat_version: '7.0.9' }),
      ]),
      job('WaterN16', 300002, [
        pass({ status: 'running', site: 'ral' }),
        pass({ pass: 2, status: 'failed', site: 'cedar' }),
      ]),
      job('WaterN16', 300003, [pass({ status: 'waiting', site: 'cedar' })]),
      {
        _id: 'data:TeloadedBi214:300000:1:ntuple',
        type: 'data',
        module: 'TeloadedBi214',
        run: 300000,
        pass: 1,
        label: 'bi-2026',
        data_type: 'ntuple',
        files: ['a', 'b'].map((name, subjob) => ({
          subjob,
          name: `${name}.ntuple.root`,
          guid: `guid-${name}`,
          lfn: `/bi-2026/TeloadedBi214/300000/1/${name}.ntuple.root`,
          replicas: [{ se: 'file', url: `file:///data/${name}.ntuple.root` }],
          size: 10,
          adler32: '00000001',
          sha256: 'x',
          events: null,
          url: `file:///data/${name}.ntuple.root`,
        })),
      },
      { _id: productionInfoId('7.0.8'), type: 'production_information', rat_version: '7.0.8', modules: {} },
    ];
    const rows = await test.db.bulkDocs(docs);
    expect(rows.every((row) => row.ok)).toBe(true);
  });

  it('counts passes by status, and by status and module', async () => {
    const byStatus = await test.db.view<[string], number>('passes', 'by_status', { group_level: 1 });
    expect(byStatus.rows.map((row) => [row.key[0], row.value])).toEqual([
      ['completed', 1],
      ['failed', 1],
      ['running', 1],
      ['waiting', 4],
    ]);
    const byModule = await test.db.view<[string, string], number>('passes', 'by_status', {
      group_level: 2,
      startkey: ['waiting'],
      endkey: ['waiting', {}],
    });
    expect(byModule.rows.map((row) => [row.key[1], row.value])).toEqual([
      ['TeloadedBi214', 2],
      ['WaterN16', 2],
    ]);
  });

  it('lists ready passes in each queue order, leaving out passes a site holds', async () => {
    const order = async (name: string, descending = false) => {
      const result = await test.db.view<unknown[], { run: number; pass: number }>('passes', `ready_${name}`, {
        descending,
      });
      return result.rows.map((row) => `${row.value.run}/${row.value.pass}`);
    };
    expect(await order('priority')).toEqual(['300001/1', '300000/2', '299999/1']);
    expect(await order('run')).toEqual(['299999/1', '300000/2', '300001/1']);
    expect(await order('run', true)).toEqual(['300001/1', '300000/2', '299999/1']);
    expect(await order('created')).toEqual(['300001/1', '300000/2', '299999/1']);
    const ready = await test.db.view<unknown[], { rat_version: string; label: string }>('passes', 'ready_run', {
      limit: 1,
    });
    expect(ready.rows[0]?.value).toMatchObject({ module: 'WaterN16', rat_version: '7.0.9', label: 'mc-2026' });
  });

  it('lists the passes each site holds that may be running, not the finished ones', async () => {
    const ral = await test.db.view<unknown[]>('passes', 'locked_by_site', { startkey: ['ral'], endkey: ['ral', {}] });
    expect(ral.rows.map((row) => row.key)).toEqual([['ral', 'running', 'WaterN16', 300002, 1]]);
  });

  it('finds jobs and data by label, data by module and run, and production information by version', async () => {
    const jobs = await test.db.view<unknown[], string>('jobs', 'by_label', {
      startkey: ['bi-2026'],
      endkey: ['bi-2026', {}],
    });
    expect(jobs.rows.map((row) => [row.key.slice(1), row.value])).toEqual([
      [['TeloadedBi214', 300000, 1], 'completed'],
      [['TeloadedBi214', 300000, 2], 'waiting'],
      [['TeloadedBi214', 300001, 1], 'waiting'],
    ]);
    const data = await test.db.view<unknown[], number>('data', 'by_label', {
      startkey: ['bi-2026'],
      endkey: ['bi-2026', {}],
    });
    expect(data.rows.map((row) => row.value)).toEqual([2]);
    const byRun = await test.db.view('data', 'by_module_run', { key: ['TeloadedBi214', 300000, 1, 'ntuple'] });
    expect(byRun.rows.map((row) => row.value)).toEqual(['bi-2026']);
    const info = await test.db.view('info', 'production_by_version', { key: '7.0.8' });
    expect(info.rows.map((row) => row.id)).toEqual(['production_information_7_0_8']);
  });

  it('builds an index without the request timeout, however long it takes', async () => {
    const impatient = testCouch({ timeoutMs: 1, retry: { attempts: 1, baseMs: 1, maxMs: 1 } }).use(test.db.name);
    await expect(impatient.view('passes', 'by_status', { reduce: false })).rejects.toBeInstanceOf(UnreachableError);
    await expect(buildIndex(impatient, 'passes', 'ready_priority')).resolves.toBeUndefined();
  });
});

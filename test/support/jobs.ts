/** Job databases and site contexts for the client tests: real server, real views, fixture jobs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../../src/backends/backend.js';
import type { ClientContext } from '../../src/client/context.js';
import { runCycle } from '../../src/client/cycle.js';
import type { Database } from '../../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../../src/db/design-docs.js';
import { silentLogger } from '../../src/log.js';
import type { DataDoc, JobDoc, Pass } from '../../src/model/documents.js';
import type { JobToPrepare } from '../../src/backends/prepare.js';
import { BUNDLED_VIEWS } from '../../src/paths.js';
import { fixtureProductionInfo } from '../../src/production/production-info.js';
import { loadSite } from '../../src/sites/site.js';
import { submitRequestFile } from '../../src/submit/submit.js';
import { testCouch, uniqueName } from './couch.js';
import { FIXTURE_RELEASE } from './fixture.js';

export const INFO = fixtureProductionInfo().doc;

/** A database with the views, the fixture's production information and `n` Po210 jobs waiting. */
export async function databaseWithJobs(
  n: number,
  prefix = 'enqueue',
  options: { ratdbTag?: string } = {},
): Promise<Database> {
  const db = testCouch({ retry: { attempts: 5, baseMs: 50, maxMs: 200 } }).use(uniqueName(prefix));
  await db.create();
  await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
  await db.put(INFO);
  const file = join(mkdtempSync(join(tmpdir(), 'gasp-enqueue-')), 'jobs.json');
  writeFileSync(
    file,
    JSON.stringify({
      rat_v: '7.0.8',
      label: 'enq',
      modules: [{ module: 'PartialPo210', n_ev: 10 * n, ev_per_run: 10, template: { fill_volume: 'lower' } }],
    }),
  );
  await submitRequestFile(db, file, options);
  return db;
}

/**
 * A client of site `name` running the fixture release; outputs to a folder of its own unless
 * `storage` names another (such as a root:// SE), with any more site-file `lines` (`se = NAME\n`).
 */
export function context(
  db: Database,
  name: string,
  backend: Backend,
  maxJobs = 50,
  { storage, lines = '' }: { storage?: string; lines?: string } = {},
): ClientContext {
  const dir = mkdtempSync(join(tmpdir(), `gasp-site-${name}-`));
  writeFileSync(
    join(dir, 'site.ini'),
    `name = ${name}\nbackend = local\nmax_jobs = ${maxJobs}\nstorage = ${storage ?? `file://${join(dir, 'storage')}`}\n${lines}[rat]\n7.0.8 = ${join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh')}\n`,
  );
  return {
    db,
    site: loadSite(join(dir, 'site.ini')),
    backend,
    mode: 'production',
    queue: 'priority',
    maxClaim: 50,
    workRoot: join(dir, 'jobs'),
    leaseSeconds: 600,
    log: silentLogger,
    now: () => new Date(),
    info: new Map(),
  };
}

export async function jobs(db: Database): Promise<JobDoc[]> {
  const all = await db.allDocs<JobDoc>({ include_docs: true, startkey: 'job:', endkey: 'job:\uffff' });
  return all.rows.flatMap((row) => (row.doc ? [row.doc] : []));
}

/** Runs client cycles until every pass of the database has ended (real jobs take a while), then returns the jobs. */
export async function runUntilEnded(ctx: ClientContext, pauseMs = 200, cycles = 150): Promise<JobDoc[]> {
  for (let cycle = 0; cycle < cycles; cycle++) {
    await runCycle(ctx, { submit: true, monitor: true });
    if (
      (await jobs(ctx.db)).every((doc) =>
        doc.passes.every((pass) => pass.status === 'completed' || pass.status === 'failed'),
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return jobs(ctx.db);
}

/** Runs the client until every pass has ended, requires each to be completed, and returns the data documents. */
export async function completedData(ctx: ClientContext): Promise<DataDoc[]> {
  const ended = await runUntilEnded(ctx);
  const statuses = ended.flatMap((doc) => doc.passes.map((pass) => pass.status));
  if (statuses.some((status) => status !== 'completed'))
    throw new Error(`passes ended ${statuses.join(', ')}, expected all completed`);
  const rows = await ctx.db.view<unknown, unknown, DataDoc>('data', 'by_label', { include_docs: true });
  return rows.rows.flatMap((row) => (row.doc ? [row.doc] : []));
}

/** A submitted pass (label `wrap`, run 7) of a fixture module, ready for the wrapper. */
export function fixtureJob(module: string, overrides: Partial<Pass> = {}): JobToPrepare {
  const production = INFO.modules[module];
  if (production === undefined) throw new Error(`fixture lost ${module}`);
  const pass: Pass = {
    pass: 1,
    status: 'submitted',
    rat_version: '7.0.8',
    label: 'wrap',
    priority: 0,
    created: '2026-11-30T00:00:00Z',
    event_mode: 'number',
    amount: { events: 100 },
    template: { fill_volume: 'av' },
    macro_sha256: production.sha256,
    attempts: [],
    ...overrides,
  };
  return { module, run: 7, pass, subjob: 0, production };
}

/** The fixture module whose macro names no output file (rat's -o names it). */
export const bipo214Job = (overrides: Partial<Pass> = {}): JobToPrepare => fixtureJob('ScintBipo214', overrides);

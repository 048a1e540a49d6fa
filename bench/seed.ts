/** Databases, documents and client contexts for the benchmarks, each figure starting fresh. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../src/backends/backend.js';
import type { ClientContext } from '../src/client/context.js';
import type { Couch } from '../src/db/couch.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { silentLogger } from '../src/log.js';
import { jobId, type JobDoc, type Pass, type ProductionInfoDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { fixtureProductionInfo } from '../src/production/production-info.js';
import { loadSite } from '../src/sites/site.js';

export const MODULE = 'PartialPo210';

export const INFO: ProductionInfoDoc = fixtureProductionInfo().doc;

function pass(run: number, status: Pass['status']): Pass {
  return {
    pass: 1,
    status,
    rat_version: '7.0.8',
    label: 'bench',
    priority: 0,
    created: new Date(1_700_000_000_000 + run).toISOString(),
    event_mode: 'number',
    amount: { events: 10 },
    template: { fill_volume: 'x' },
    macro_sha256: INFO.modules[MODULE]?.sha256 ?? '',
    attempts: [],
  };
}

/** `count` jobs of one pass each, runs 1…count, written 5,000 to a request. */
export async function seed(db: Database, count: number, status: Pass['status'] = 'waiting'): Promise<void> {
  for (let start = 0; start < count; start += 5_000) {
    const docs: JobDoc[] = [];
    for (let run = start + 1; run <= Math.min(count, start + 5_000); run++)
      docs.push({ _id: jobId(MODULE, run), type: 'job', module: MODULE, run, passes: [pass(run, status)] });
    await db.bulkDocs(docs);
  }
}

/** The views a client cycle reads, brought up to date, so no figure pays for a first index build. */
export const CYCLE_VIEWS = ['ready_priority', 'locked_by_site', 'leases'];

export async function buildViews(db: Database): Promise<void> {
  await Promise.all(CYCLE_VIEWS.map((view) => db.view('passes', view, { limit: 0 }, { timeoutMs: 0 })));
}

/** A new database with the views and the fixture's production information, seeded and indexed. */
export async function freshDatabase(
  couch: Couch,
  name: string,
  jobs = 0,
  status: Pass['status'] = 'waiting',
): Promise<Database> {
  const db = couch.use(name);
  await db.create();
  await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
  await db.put(INFO);
  await seed(db, jobs, status);
  await buildViews(db);
  return db;
}

/** A site file of this backend in its own folder. */
export function siteFile(work: string, backend: 'dry' | 'slurm', maxJobs = 100_000, name = 'bench'): string {
  const dir = mkdtempSync(join(work, 'site-'));
  writeFileSync(
    join(dir, 'site.ini'),
    `name = ${name}\nbackend = ${backend}\nmax_jobs = ${maxJobs}\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
  );
  return join(dir, 'site.ini');
}

export function context(
  db: Database,
  backend: Backend,
  work: string,
  kind: 'dry' | 'slurm' = 'dry',
  name = 'bench',
): ClientContext {
  const site = loadSite(siteFile(work, kind, 100_000, name));
  return {
    db,
    site,
    backend,
    mode: 'production',
    queue: 'priority',
    maxClaim: 500,
    workRoot: site.local.workdir,
    leaseSeconds: 3600,
    log: silentLogger,
    now: () => new Date(),
    info: new Map(),
  };
}

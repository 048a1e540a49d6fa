// temporary: per-request timings of dispatch cycles
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DryBackend } from '../src/backends/dry.js';
import { runCycle } from '../src/client/cycle.js';
import { DEFAULT_INTERNAL_RATE_GENERATORS, DEFAULT_PHASES } from '../src/config/config.js';
import { Couch } from '../src/db/couch.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { silentLogger } from '../src/log.js';
import { jobId, type JobDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS, FIXTURE_RELEASE } from '../src/paths.js';
import { makeProductionInfo } from '../src/production/production-info.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { loadSite } from '../src/sites/site.js';
const size = Number(process.argv[2] ?? 3000);
const work = mkdtempSync(join(tmpdir(), 'gasp-prof-'));
const server = await EmbeddedServer.start({ dir: join(work, 'db') });
const couch = new Couch({ url: server.url, timeoutMs: 600_000 });
const INFO = makeProductionInfo({ ratDir: FIXTURE_RELEASE, production: { phases: [...DEFAULT_PHASES], internalRateGenerators: [...DEFAULT_INTERNAL_RATE_GENERATORS], modeOverrides: [] } }).doc;
const db = couch.use('prof'); await db.create(); await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS)); await db.put(INFO);
for (let start = 0; start < size; start += 2000) {
  const docs: JobDoc[] = [];
  for (let run = start + 1; run <= Math.min(size, start + 2000); run++) docs.push({ _id: jobId('PartialPo210', run), type: 'job', module: 'PartialPo210', run, passes: [{ pass: 1, status: 'waiting', rat_version: '7.0.8', label: 'bench', priority: 0, created: new Date(1_700_000_000_000 + run).toISOString(), event_mode: 'number', amount: { events: 10 }, template: {}, attempts: [] }] });
  await db.bulkDocs(docs);
}
for (const view of ['ready_priority', 'locked_by_site', 'leases']) await db.view('passes', view, { limit: 0 });
const log: string[] = [];
const orig = couch.request.bind(couch);
(couch as unknown as { request: typeof couch.request }).request = (async (opts: Parameters<typeof couch.request>[0]) => {
  const t = performance.now();
  const r = await orig(opts as never);
  const o = opts as { method?: string; path?: string; qs?: Record<string, unknown>; body?: { docs?: unknown[]; keys?: unknown[] } };
  const rows = (r as { rows?: unknown[] })?.rows?.length ?? (Array.isArray(r) ? r.length : '');
  log.push(`${(performance.now() - t).toFixed(0).padStart(5)} ms ${o.method ?? 'GET'} ${o.path ?? ''} ${JSON.stringify(o.qs ?? {}).slice(0, 90)} n=${o.body?.docs?.length ?? o.body?.keys?.length ?? ''} rows=${rows}`);
  return r;
}) as typeof couch.request;
const dir = mkdtempSync(join(work, 'site-'));
writeFileSync(join(dir, 'site.ini'), `name = bench\nbackend = dry\nmax_jobs = 100000\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`);
const dry = new DryBackend();
const ctx = { db, site: loadSite(join(dir, 'site.ini')), backend: dry, mode: 'production' as const, queue: 'priority' as const, maxClaim: 500, workRoot: join(dir, 'jobs'), leaseSeconds: 3600, log: silentLogger, now: () => new Date(), info: new Map() };
const t0 = performance.now();
for (let c = 0; dry.submitted.length < size && c < 40; c++) {
  const t = performance.now();
  const s = await runCycle(ctx, { submit: true, monitor: process.argv[3] === 'monitor' });
  console.log(`cycle ${c}: ${(performance.now() - t).toFixed(0)} ms claimed ${s.claimed} completed ${s.completed}`);
  for (const l of log) console.log('   ' + l);
  log.length = 0;
}
const d = await db.get<JobDoc>(jobId('PartialPo210', 1), { revs_info: 'true' } as never).catch(()=>null); console.log(JSON.stringify(d).slice(0,1500));
console.log(`rate ${(dry.submitted.length / ((performance.now() - t0) / 1000)).toFixed(0)}/s`);
await server.stop();

/**
 * `npm run bench`: each figure with the baseline measured in the same run and their ratio, since
 * these machines are noisy. It starts its own embedded server and seeds its own databases.
 * `--json` prints one JSON object at the end; `--quick` uses smaller sizes (a smoke run).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DryBackend } from '../src/backends/dry.js';
import type { Backend } from '../src/backends/backend.js';
import type { ClientContext } from '../src/client/context.js';
import { runCycle } from '../src/client/cycle.js';
import { DEFAULT_INTERNAL_RATE_GENERATORS, DEFAULT_PHASES } from '../src/config/config.js';
import { Couch } from '../src/db/couch.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { silentLogger } from '../src/log.js';
import { jobId, type JobDoc, type Pass, type ProductionInfoDoc } from '../src/model/documents.js';
import { BUNDLED_VIEWS, FIXTURE_RELEASE } from '../src/paths.js';
import { makeProductionInfo } from '../src/production/production-info.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { loadSite } from '../src/sites/site.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const figures: Array<{ figure: string; value: number; unit: string; baseline?: string; baselineValue?: number; ratio?: number; target?: string }> = [];

function report(figure: string, value: number, unit: string, baseline?: { name: string; value: number }, target?: string): void {
  const ratio = baseline === undefined ? undefined : value / baseline.value;
  figures.push({ figure, value, unit, ...(baseline && { baseline: baseline.name, baselineValue: baseline.value }), ...(ratio !== undefined && { ratio }), ...(target && { target }) });
  if (!json) {
    const against = baseline === undefined ? '' : `   vs ${baseline.name} ${baseline.value.toFixed(1)} ${unit}: ratio ${ratio?.toFixed(2)}`;
    console.log(`${figure.padEnd(34)} ${value.toFixed(1).padStart(9)} ${unit}${against}${target === undefined ? '' : `   (target ${target})`}`);
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

const INFO: ProductionInfoDoc = makeProductionInfo({
  ratDir: FIXTURE_RELEASE,
  production: { phases: [...DEFAULT_PHASES], internalRateGenerators: [...DEFAULT_INTERNAL_RATE_GENERATORS], modeOverrides: [] },
}).doc;

function waitingPass(number: number): Pass {
  return { pass: 1, status: 'waiting', rat_version: '7.0.8', label: 'bench', priority: 0, created: new Date(1_700_000_000_000 + number).toISOString(), event_mode: 'number', amount: { events: 10 }, template: { fill_volume: 'x' }, macro_sha256: INFO.modules.PartialPo210?.sha256 ?? '', attempts: [] };
}

async function seed(db: Database, count: number, status: Pass['status'] = 'waiting'): Promise<void> {
  for (let start = 0; start < count; start += 2_000) {
    const docs: JobDoc[] = [];
    for (let run = start + 1; run <= Math.min(count, start + 2_000); run++) {
      docs.push({ _id: jobId('PartialPo210', run), type: 'job', module: 'PartialPo210', run, passes: [{ ...waitingPass(run), status }] });
    }
    await db.bulkDocs(docs);
  }
}

async function freshDatabase(couch: Couch, name: string): Promise<Database> {
  const db = couch.use(name);
  await db.create();
  await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
  await db.put(INFO);
  return db;
}

function context(db: Database, backend: Backend, work: string): ClientContext {
  const dir = mkdtempSync(join(work, 'site-'));
  writeFileSync(join(dir, 'site.ini'), `name = bench\nbackend = dry\nmax_jobs = 100000\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`);
  return { db, site: loadSite(join(dir, 'site.ini')), backend, mode: 'production', queue: 'priority', maxClaim: 500, workRoot: join(dir, 'jobs'), leaseSeconds: 3600, log: silentLogger, now: () => new Date(), info: new Map() };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'gasp-bench-'));
  const server = await EmbeddedServer.start({ dir: join(work, 'db') });
  const couch = new Couch({ url: server.url, timeoutMs: 600_000 });
  const size = quick ? 500 : 3_000;
  try {
    // dispatch: claimed and submitted per second by one client (dry) vs raw _bulk_docs updates of the same documents
    const raw = await freshDatabase(couch, 'bench-raw');
    await seed(raw, size);
    await raw.view('passes', 'ready_priority', { limit: 0 });
    let started = performance.now();
    for (let start = 1; start <= size; start += 500) {
      const found = await raw.allDocs<JobDoc>({ keys: Array.from({ length: Math.min(500, size - start + 1) }, (_, index) => jobId('PartialPo210', start + index)), include_docs: true });
      await raw.bulkDocs(found.rows.flatMap((row) => (row.doc ? [{ ...row.doc, passes: row.doc.passes.map((pass) => ({ ...pass, status: 'submitted' as const, site: 'raw' })) }] : [])));
    }
    const rawRate = size / ((performance.now() - started) / 1000);

    const dispatchDb = await freshDatabase(couch, 'bench-dispatch');
    await seed(dispatchDb, size);
    await dispatchDb.view('passes', 'ready_priority', { limit: 0 });
    const dry = new DryBackend();
    const ctx = context(dispatchDb, dry, work);
    started = performance.now();
    while (dry.submitted.length < size) {
      const stats = await runCycle(ctx, { submit: true, monitor: false });
      if (stats.claimed === 0) break;
    }
    const dispatchRate = dry.submitted.length / ((performance.now() - started) / 1000);

    const naive = await freshDatabase(couch, 'bench-naive');
    const naiveCount = Math.min(size, quick ? 100 : 300);
    await seed(naive, naiveCount);
    started = performance.now();
    for (let run = 1; run <= naiveCount; run++) {
      const doc = await naive.get<JobDoc>(jobId('PartialPo210', run));
      await naive.put({ ...doc, passes: doc.passes.map((pass) => ({ ...pass, status: 'submitted' as const, site: 'naive' })) });
    }
    const naiveRate = naiveCount / ((performance.now() - started) / 1000);
    report('dispatch (claim + submit, dry)', dispatchRate, 'passes/s', { name: 'raw _bulk_docs', value: rawRate }, '>= 0.5');
    report('dispatch vs naive get/put', dispatchRate, 'passes/s', { name: 'get+put per pass', value: naiveRate }, '>= 20');

    // sustained: dispatched and recorded end to end (monitor included)
    const sustainedDb = await freshDatabase(couch, 'bench-sustained');
    await seed(sustainedDb, size);
    const sustained = context(sustainedDb, new DryBackend(), work);
    started = performance.now();
    let completed = 0;
    for (let cycle = 0; cycle < 1_000 && completed < size; cycle++) completed += (await runCycle(sustained, { submit: true, monitor: true })).completed;
    report('sustained (dispatch + record, dry)', completed / ((performance.now() - started) / 1000), 'passes/s', undefined, '>= 100');

    // idle poll: a cycle with nothing to do, at two history sizes; the cost must not grow with history
    const polls: number[] = [];
    for (const history of quick ? [1_000, 4_000] : [5_000, 20_000]) {
      const idleDb = await freshDatabase(couch, `bench-idle-${history}`);
      await seed(idleDb, history, 'completed');
      const idleCtx = context(idleDb, new DryBackend(), work);
      await runCycle(idleCtx, { submit: true, monitor: true });
      const times: number[] = [];
      for (let repeat = 0; repeat < 15; repeat++) {
        const begin = performance.now();
        await runCycle(idleCtx, { submit: true, monitor: true });
        times.push(performance.now() - begin);
      }
      polls.push(median(times));
      report(`idle cycle, ${history} finished jobs`, median(times), 'ms', undefined, '<= 20 ms');
    }
    report('idle cycle growth (large / small)', polls[1] ?? 0, 'ms', { name: 'small history', value: polls[0] ?? 1 }, '<= 1.5');

    // monitor: backend status calls per cycle with many held passes
    const monitorDb = await freshDatabase(couch, 'bench-monitor');
    await seed(monitorDb, quick ? 200 : 1_000);
    let statusCalls = 0;
    const counting = new DryBackend();
    const original = counting.status.bind(counting);
    counting.status = async (ids) => {
      statusCalls += 1;
      return new Map([...(await original(ids))].map(([id]) => [id, { state: 'running' as const }]));
    };
    const monitorCtx = context(monitorDb, counting, work);
    for (let cycle = 0; cycle < 5; cycle++) await runCycle(monitorCtx, { submit: true, monitor: false });
    statusCalls = 0;
    await runCycle(monitorCtx, { submit: false, monitor: true });
    report(`status calls per cycle, ${counting.submitted.length} held`, statusCalls, 'calls', undefined, '1');

    // memory: the client's resident memory now, with its databases and passes held
    report('client RSS after the runs above', process.memoryUsage().rss / 1024 / 1024, 'MB', undefined, '<= 150 MB');

    // make-production over a generated release
    const release = join(work, 'rat-9.9.9');
    const macros = quick ? 300 : 2_000;
    for (let index = 0; index < macros; index++) {
      const folder = join(release, 'mac', 'production', 'water', `group${index % 20}`);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `m${index}.mac`), `/rat/proc outroot\n/rat/procset file "\${OUTPUT}.root"\n/generator/add decaychain X${index}\n/rat/run/start \${NEVENTS}\n`);
    }
    started = performance.now();
    makeProductionInfo({ ratDir: release, version: '9.9.9', production: { phases: ['water'], internalRateGenerators: [], modeOverrides: [] } });
    report(`make-production, ${macros} macros`, macros / ((performance.now() - started) / 1000), 'macros/s');
  } finally {
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
  if (json) console.log(JSON.stringify({ figures }, null, 2));
}

await main();

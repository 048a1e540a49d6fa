/**
 * The `sites` group of `npm run bench`: N simulated sites in this process drain one database of
 * waiting passes at once, as N `gasp enqueue` clients would with no pause between cycles. Each has
 * its own site name, dry backend, client memory and database handle; each handle goes through a
 * counting wrapper of the bench's server, so the figures say what each site asked of the server:
 * requests and bytes per cycle while passes were waiting (busy) and once none were (idle), and how
 * many of its claims another site had won first.
 */
import { DryBackend } from '../src/backends/dry.js';
import type { ClientContext } from '../src/client/context.js';
import { runCycle } from '../src/client/cycle.js';
import { DEFAULT_STALE_SECONDS } from '../src/config/config.js';
import { SiteHeartbeat } from '../src/coordination/heartbeat.js';
import { ServerClock } from '../src/db/clock.js';
import { Database } from '../src/db/database.js';
import { jobId, type JobDoc } from '../src/model/documents.js';
import { GASP_VERSION } from '../src/paths.js';
import { CountingServer, since, type Traffic } from './counting-server.js';
import type { Reporting } from './grab-throughput.js';
import { context, MODULE } from './seed.js';
import type { BenchServer } from './server.js';

export interface SitesSizes {
  passes: number;
  /** How many sites drain it, one run each. */
  counts: number[];
  /** A run that has not drained the database by then stops and says so. */
  capMs: number;
}

interface SimulatedSite {
  counted: CountingServer;
  backend: DryBackend;
  ctx: ClientContext;
  busy: Traffic[];
  idle: Traffic[];
}

/**
 * Site `index` of a run, started as its client starts: its heartbeat written once (uncounted), so
 * the sites find each other alive and claiming in production.
 */
async function startSite(server: BenchServer, db: string, work: string, index: number): Promise<SimulatedSite> {
  const counted = new CountingServer(server.couch);
  const backend = new DryBackend();
  const ctx = context(new Database(counted, db), backend, work, 'dry', `site-${String(index + 1).padStart(2, '0')}`);
  await new SiteHeartbeat(new Database(server.couch, db), new ServerClock(server.couch), {
    site: ctx.site.name,
    mode: ctx.mode,
    version: GASP_VERSION,
    heartbeatSeconds: 60,
    staleSeconds: DEFAULT_STALE_SECONDS,
    takesTurns: false,
    capabilities: {
      rat_versions: [...ctx.site.rat.versions.keys()],
      modes: ctx.site.modes,
      max_jobs: ctx.site.maxJobs,
      paused_labels: [],
      claims: true,
    },
  }).start();
  return { counted, backend, ctx, busy: [], idle: [] };
}

/** One cycle of the site, its traffic added to `cycles`. */
async function countedCycle(site: SimulatedSite, cycles: Traffic[], monitor: boolean): Promise<number> {
  const before = { ...site.counted.traffic };
  const stats = await runCycle(site.ctx, { submit: true, monitor });
  cycles.push(since(site.counted.traffic, before));
  return stats.claimed;
}

interface Drain {
  claimed: number;
  submitted: number;
  ms: number;
  lastClaimMs: number;
}

/** Every site cycles, with no pause, until all the passes are claimed or the cap is reached. */
async function drain(sites: SimulatedSite[], sizes: SitesSizes): Promise<Drain> {
  const started = performance.now();
  let claimed = 0;
  let lastClaimMs = 0;
  const done = () => claimed >= sizes.passes || performance.now() - started > sizes.capMs;
  await Promise.all(
    sites.map(async (site) => {
      while (!done()) {
        const won = await countedCycle(site, site.busy, false);
        claimed += won;
        if (won > 0) lastClaimMs = performance.now() - started;
      }
    }),
  );
  const submitted = sites.reduce((total, site) => total + site.backend.submitted.length, 0);
  return { claimed, submitted, ms: performance.now() - started, lastClaimMs };
}

/**
 * Every pass finished, written straight and uncounted (what the dry jobs' monitoring would record
 * over many cycles), so the idle cycles find nothing waiting and nothing held.
 */
async function finishAll(db: Database, passes: number): Promise<void> {
  for (let start = 1; start <= passes; start += 5_000) {
    const keys = Array.from({ length: Math.min(5_000, passes - start + 1) }, (_, index) =>
      jobId(MODULE, start + index),
    );
    const found = await db.allDocs<JobDoc>({ keys, include_docs: true });
    await db.bulkDocs(
      found.rows.flatMap((row) =>
        row.doc
          ? [{ ...row.doc, passes: row.doc.passes.map((pass) => ({ ...pass, status: 'completed' as const })) }]
          : [],
      ),
    );
  }
}

/** Per site per cycle, over all the sites' cycles. */
function perCycle(cycles: Traffic[]): { requests: number; kb: number } {
  const count = Math.max(1, cycles.length);
  return {
    requests: sum(cycles, 'requests') / count,
    kb: (sum(cycles, 'sent') + sum(cycles, 'received')) / 1024 / count,
  };
}

/** "1 site", "5 sites". */
const sitesText = (count: number) => `${count} site${count === 1 ? '' : 's'}`;
const sum = (cycles: Traffic[], key: keyof Traffic) => cycles.reduce((total, cycle) => total + cycle[key], 0);
const percent = (part: number, whole: number) => (whole === 0 ? 0 : (100 * part) / whole);

interface SitesRow {
  sites: number;
  drain: Drain;
  rate: number;
  cycles: number;
  conflicts: number;
  taken: number;
  busy: { requests: number; kb: number };
  idle: { requests: number; kb: number };
}

/** N sites drain a fresh database of `passes` waiting passes, then cycle 5 times each on it idle. */
async function sitesRun(
  server: BenchServer,
  work: string,
  sizes: SitesSizes,
  count: number,
  progress: Reporting['progress'],
): Promise<SitesRow> {
  const started = performance.now();
  const seconds = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const db = await server.fresh(`sites-${count}`, sizes.passes);
  progress(`sites: ${sitesText(count)}: seeded and indexed at ${seconds()}`);
  const sites = await Promise.all(Array.from({ length: count }, (_, index) => startSite(server, db.name, work, index)));
  const drained = await drain(sites, sizes);
  progress(`sites: ${sitesText(count)}: ${drained.claimed} passes claimed at ${seconds()}`);
  await finishAll(db, sizes.passes);
  await Promise.all(
    sites.map(async (site) => {
      // uncounted: the first brings the indexes up to date after the finishing writes
      await runCycle(site.ctx, { submit: true, monitor: true });
      for (let cycle = 0; cycle < 5; cycle++) await countedCycle(site, site.idle, true);
    }),
  );
  progress(`sites: ${sitesText(count)}: idle cycles done at ${seconds()}`);
  // at once, not at the end: CouchDB goes on indexing and compacting a database it keeps, which
  // would slow the next run's sites
  await db.destroy();
  const busy = sites.flatMap((site) => site.busy);
  return {
    sites: count,
    drain: drained,
    rate: drained.submitted / (drained.ms / 1000),
    cycles: busy.length / count,
    conflicts: percent(sum(busy, 'conflicts'), sum(busy, 'claimWrites')),
    taken: percent(sum(busy, 'takenBeforeRead'), sum(busy, 'picked')),
    busy: perCycle(busy),
    idle: perCycle(sites.flatMap((site) => site.idle)),
  };
}

function reportRow(row: SitesRow, single: SitesRow | undefined, passes: number, { report }: Reporting): void {
  const n = sitesText(row.sites);
  const many = row.sites === 20;
  const baseline = single === undefined || row === single ? undefined : { name: '1 site', value: single.rate };
  report(`sites: dispatch, ${n}, ${passes} passes`, row.rate, 'passes/s', baseline, many ? '>= 0.8' : undefined);
  if (row.drain.claimed < passes) report(`sites: claimed before the cap, ${n}`, row.drain.claimed, 'passes');
  report(`sites: claim writes lost to conflicts, ${n}`, row.conflicts, '%', undefined, many ? '<= 5 %' : undefined);
  report(`sites: picked passes taken before read, ${n}`, row.taken, '%');
  report(`sites: requests per busy cycle, ${n}`, row.busy.requests, 'per site');
  report(`sites: KB per busy cycle, ${n}`, row.busy.kb, 'KB per site');
  report(`sites: requests per idle cycle, ${n}`, row.idle.requests, 'per site', undefined, '<= 3');
  report(`sites: KB per idle cycle, ${n}`, row.idle.kb, 'KB per site');
  report(`sites: until the last pass is claimed, ${n}`, row.drain.lastClaimMs / 1000, 's');
}

/** The multi-site table: a header and one row per number of sites. */
function table(rows: SitesRow[], passes: number): string[] {
  const columns = [
    'sites',
    'passes/s',
    'ratio',
    'conflict %',
    'taken %',
    'busy req',
    'busy KB',
    'idle req',
    'idle KB',
    'cycles',
    'last claim s',
  ];
  const single = rows.find((row) => row.sites === 1);
  const line = (cells: string[]) => cells.map((cell, index) => cell.padStart(columns[index]?.length ?? 0)).join('  ');
  return [
    `multi-site table: ${passes} passes; per site per cycle: requests and KB sent + received`,
    line(columns),
    ...rows.map((row) =>
      line([
        String(row.sites),
        row.rate.toFixed(0),
        single === undefined ? '' : (row.rate / single.rate).toFixed(2),
        row.conflicts.toFixed(1),
        row.taken.toFixed(1),
        row.busy.requests.toFixed(1),
        row.busy.kb.toFixed(0),
        row.idle.requests.toFixed(1),
        row.idle.kb.toFixed(1),
        row.cycles.toFixed(0),
        row.drain.claimed < passes ? `did not drain (${row.drain.claimed})` : (row.drain.lastClaimMs / 1000).toFixed(1),
      ]),
    ),
  ];
}

export async function sitesFigures(
  server: BenchServer,
  work: string,
  sizes: SitesSizes,
  reporting: Reporting & { print: (line: string) => void },
): Promise<void> {
  const rows: SitesRow[] = [];
  for (const count of sizes.counts) {
    reporting.progress(`sites: ${sitesText(count)}, simulated, drain ${sizes.passes} passes`);
    const row = await sitesRun(server, work, sizes, count, reporting.progress);
    if (row.drain.claimed < sizes.passes)
      reporting.progress(
        `sites: ${sitesText(count)} did not drain: ${row.drain.claimed} of ${sizes.passes} claimed in ${(sizes.capMs / 1000).toFixed(0)} s`,
      );
    rows.push(row);
    reportRow(row, rows[0]?.sites === 1 ? rows[0] : undefined, sizes.passes, reporting);
  }
  for (const line of table(rows, sizes.passes)) reporting.print(line);
}

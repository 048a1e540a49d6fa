/**
 * `npm run bench`: each figure with the baseline measured in the same run and their ratio, since
 * these machines are noisy. It starts its own embedded server and seeds its own databases; timed
 * figures are the median of several runs. `--json` prints one JSON object at the end; `--quick`
 * uses smaller sizes (a smoke run of about a minute); `--only idle,memory` runs just those groups;
 * `--url URL` measures an existing CouchDB instead (see server.ts for its login).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DryBackend } from '../src/backends/dry.js';
import { SlurmBackend } from '../src/backends/slurm.js';
import { runCycle } from '../src/client/cycle.js';
import type { Database } from '../src/db/database.js';
import { jobId, type JobDoc } from '../src/model/documents.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { makeProductionInfo } from '../src/production/production-info.js';
import { summarize } from '../src/shifter/summary.js';
import { overview } from '../src/dashboard/data.js';
import { loadDesignDocs } from '../src/db/design-docs.js';
import { readTally, ViewTally } from '../src/db/tally.js';
import { silentLogger } from '../src/log.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { startLocalSe, type LocalSe } from '../src/storage/local-se.js';
import { stagingThroughput } from './staging.js';
import { verifyFigure } from './verify-figure.js';
import { fakeSlurm } from './fake-slurm.js';
import { grabThroughputFigure } from './grab-throughput.js';
import { benchUrl, BenchServer } from './server.js';
import { sitesFigures } from './sites.js';
import { context, MODULE, siteFile } from './seed.js';

const json = process.argv.includes('--json');
/** The map function of each `_sum` view of the summary design document, as gasp serve tallies them. */
const SUMMARY_VIEWS = Object.fromEntries(
  Object.entries(loadDesignDocs(BUNDLED_VIEWS).find((doc) => doc._id === '_design/summary')?.views ?? {}).flatMap(
    ([view, source]) => (source.reduce === '_sum' ? [[view, source.map]] : []),
  ),
);
const quick = process.argv.includes('--quick');
/** `--only idle,monitor`: just these groups of figures. */
const only = (process.argv[process.argv.indexOf('--only') + 1] ?? '')
  .split(',')
  .filter((name) => process.argv.includes('--only') && name !== '');
/** `--url URL`: an existing CouchDB rather than an embedded server of the bench's own. */
const url = benchUrl(
  process.argv.includes('--url') ? (process.argv[process.argv.indexOf('--url') + 1] ?? '') : undefined,
);
const SIZES = quick
  ? {
      dispatch: 500,
      naive: 100,
      sustained: 2_000,
      idle: [1_000, 10_000],
      monitor: 200,
      live: 2_000,
      macros: 300,
      grab: { files: 8, mb: 5, repeats: 3 },
      staging: { mb: 20, repeats: 3 },
      sites: { passes: 2_000, counts: [1, 5], capMs: 600_000 },
      repeats: 3,
    }
  : {
      dispatch: 3_000,
      naive: 300,
      sustained: 10_000,
      idle: [10_000, 100_000],
      monitor: 1_000,
      live: 10_000,
      macros: 2_000,
      grab: { files: 20, mb: 20, repeats: 5 },
      staging: { mb: 200, repeats: 5 },
      sites: { passes: 20_000, counts: [1, 5, 20], capMs: 600_000 },
      repeats: 3,
    };

interface Figure {
  figure: string;
  value: number;
  unit: string;
  baseline?: string;
  baselineValue?: number;
  ratio?: number;
  target?: string;
}
const figures: Figure[] = [];

function report(
  figure: string,
  value: number,
  unit: string,
  baseline?: { name: string; value: number },
  target?: string,
): void {
  const ratio = baseline === undefined ? undefined : value / baseline.value;
  figures.push({
    figure,
    value,
    unit,
    ...(baseline && { baseline: baseline.name, baselineValue: baseline.value }),
    ...(ratio !== undefined && { ratio }),
    ...(target && { target }),
  });
  if (json) return;
  const against =
    baseline === undefined ? '' : `   vs ${baseline.name} ${baseline.value.toFixed(1)}: ratio ${ratio?.toFixed(2)}`;
  console.log(
    `${figure.padEnd(44)} ${value.toFixed(1).padStart(9)} ${unit}${against}${target === undefined ? '' : `   (target ${target})`}`,
  );
}

const progress = (what: string) => json || process.stderr.write(`… ${what}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** The median of `repeats` runs of a rate (things per second). */
async function medianRate(
  repeats: number,
  run: (round: number) => Promise<{ count: number; ms: number }>,
): Promise<number> {
  const rates: number[] = [];
  for (let round = 0; round < repeats; round++) {
    const { count, ms } = await run(round);
    rates.push(count / (ms / 1000));
  }
  return median(rates);
}

async function timed(work: () => Promise<number>): Promise<{ count: number; ms: number }> {
  const started = performance.now();
  const count = await work();
  return { count, ms: performance.now() - started };
}

/** Reads 500 jobs at a time and writes them back changed, as one client's claims would; `refresh` also brings the cycle's views up to date after each write. */
async function rawUpdates(db: Database, size: number, refresh: boolean): Promise<number> {
  for (let start = 1; start <= size; start += 500) {
    const found = await db.allDocs<JobDoc>({
      keys: Array.from({ length: Math.min(500, size - start + 1) }, (_, index) => jobId(MODULE, start + index)),
      include_docs: true,
    });
    await db.bulkDocs(
      found.rows.flatMap((row) =>
        row.doc
          ? [
              {
                ...row.doc,
                passes: row.doc.passes.map((pass) => ({ ...pass, status: 'submitted' as const, site: 'raw' })),
              },
            ]
          : [],
      ),
    );
    if (refresh) for (const view of ['ready_priority', 'locked_by_site']) await db.view('passes', view, { limit: 0 });
  }
  return size;
}

async function dispatchFigures(server: BenchServer, work: string): Promise<void> {
  const size = SIZES.dispatch;
  progress(`dispatch: ${size} passes, ${SIZES.repeats} runs each`);
  const raw = await medianRate(SIZES.repeats, async (round) => {
    const db = await server.fresh(`raw-${round}`, size);
    return timed(() => rawUpdates(db, size, false));
  });
  const floor = await medianRate(SIZES.repeats, async (round) => {
    const db = await server.fresh(`floor-${round}`, size);
    return timed(() => rawUpdates(db, size, true));
  });
  const naive = await medianRate(SIZES.repeats, async (round) => {
    const db = await server.fresh(`naive-${round}`, SIZES.naive);
    return timed(async () => {
      for (let run = 1; run <= SIZES.naive; run++) {
        const doc = await db.get<JobDoc>(jobId(MODULE, run));
        await db.put({
          ...doc,
          passes: doc.passes.map((pass) => ({ ...pass, status: 'submitted' as const, site: 'naive' })),
        });
      }
      return SIZES.naive;
    });
  });
  const dispatch = await medianRate(SIZES.repeats, async (round) => {
    const db = await server.fresh(`dispatch-${round}`, size);
    const dry = new DryBackend();
    const ctx = context(db, dry, work);
    return timed(async () => {
      while (dry.submitted.length < size)
        if ((await runCycle(ctx, { submit: true, monitor: false })).claimed === 0) break;
      return dry.submitted.length;
    });
  });
  report('dispatch (claim + submit, dry)', dispatch, 'passes/s', { name: 'raw _bulk_docs', value: raw }, '>= 0.5');
  report('dispatch vs naive get/put', dispatch, 'passes/s', { name: 'get+put per pass', value: naive }, '>= 20');
  report('dispatch vs raw + views brought up to date', dispatch, 'passes/s', { name: 'server floor', value: floor });
}

async function sustainedFigure(server: BenchServer, work: string): Promise<void> {
  progress(`sustained: ${SIZES.sustained} passes dispatched and recorded`);
  const db = await server.fresh('sustained', SIZES.sustained);
  const ctx = context(db, new DryBackend(), work);
  const { count, ms } = await timed(async () => {
    let completed = 0;
    for (let cycle = 0; cycle < 10_000 && completed < SIZES.sustained; cycle++)
      completed += (await runCycle(ctx, { submit: true, monitor: true })).completed;
    return completed;
  });
  report(`sustained, ${count} passes (dispatch + record, dry)`, count / (ms / 1000), 'passes/s', undefined, '>= 100');
}

/**
 * Runs `measure` as under gasp serve: with tallies following the changes feed, which summary and
 * the dashboard then read. They are kept next to PouchDB Server only (CouchDB keeps reductions in
 * its index, and its update_seq cannot be ordered): elsewhere `measure` reads the views, and the
 * bench says so.
 */
async function withTallies<T>(
  server: BenchServer,
  db: Database,
  history: number,
  measure: () => Promise<T>,
): Promise<T> {
  if (!server.pouchdb) {
    progress(
      `summary tallies: not kept on ${server.name} (PouchDB Server only); summary and dashboard read the reduce views`,
    );
    return measure();
  }
  const tallies = Object.entries(SUMMARY_VIEWS).map(([view, map]) => ({
    view,
    tally: new ViewTally(db, 'summary', view, map, silentLogger),
  }));
  try {
    const start = performance.now();
    for (const { view, tally } of tallies) {
      const caughtUp = tally.nextWrite();
      tally.start();
      await caughtUp;
      while ((await readTally(db, 'summary', view, 0)) === undefined) await tally.nextWrite();
    }
    report(`summary tallies catching up, ${history} passes (PouchDB Server only)`, performance.now() - start, 'ms');
    return await measure();
  } finally {
    await Promise.all(tallies.map(({ tally }) => tally.stop()));
  }
}

/** The median time of `repeats` runs of `work`, in ms. */
async function medianMs(repeats: number, work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) times.push((await timed(async () => (await work(), 0))).ms);
  return median(times);
}

async function idleFigures(server: BenchServer, work: string): Promise<void> {
  const polls: number[] = [];
  for (const history of SIZES.idle) {
    progress(`idle cycle: seeding and indexing ${history} finished jobs`);
    const db = await server.fresh(`idle-${history}`, history, 'completed');
    const ctx = context(db, new DryBackend(), work);
    await runCycle(ctx, { submit: true, monitor: true });
    const times: number[] = [];
    for (let repeat = 0; repeat < 21; repeat++) {
      const begin = performance.now();
      await runCycle(ctx, { submit: true, monitor: true });
      times.push(performance.now() - begin);
    }
    polls.push(median(times));
    report(`idle cycle, ${history} finished jobs`, median(times), 'ms', undefined, '<= 20 ms');
    // gasp summary of the whole label, once its index is built (as after views push --wait)
    await db.view('summary', 'passes', { limit: 0, reduce: false }, { timeoutMs: 0 });
    const fromView = await medianMs(3, () => summarize(db, { label: 'bench' }));
    const { summary, dashboard } = await withTallies(server, db, history, async () => ({
      summary: await medianMs(5, () => summarize(db, { label: 'bench' })),
      dashboard: await medianMs(5, () => overview(db, 'production', 1800)),
    }));
    if (server.pouchdb)
      report(
        `summary of a label, ${history} passes`,
        summary,
        'ms',
        { name: 'reduce view alone', value: fromView },
        '< 1000 ms',
      );
    else report(`summary of a label, ${history} passes (reduce view)`, summary, 'ms', undefined, '< 1000 ms');
    report(`dashboard overview, ${history} passes`, dashboard, 'ms', undefined, '< 1000 ms');
  }
  report(
    'idle cycle growth (large / small history)',
    polls[1] ?? 0,
    'ms',
    { name: 'small history', value: polls[0] ?? 1 },
    '<= 1.5',
  );
}

async function monitorFigure(server: BenchServer, work: string): Promise<void> {
  progress(`monitor: ${SIZES.monitor} passes running in a fake Slurm`);
  const slurm = fakeSlurm(mkdtempSync(join(work, 'slurm-')));
  const path = process.env.PATH;
  process.env.PATH = `${slurm.bin}:${path ?? ''}`;
  try {
    const db = await server.fresh('monitor', SIZES.monitor);
    const ctx = context(db, new DryBackend(), work, 'slurm');
    ctx.backend = new SlurmBackend(ctx.site);
    while ((await runCycle(ctx, { submit: true, monitor: false })).claimed > 0);
    const before = slurm.calls().length;
    const first = await timed(async () => (await runCycle(ctx, { submit: false, monitor: true })).running);
    const calls = slurm.calls().slice(before);
    report(
      `status calls per cycle, ${SIZES.monitor} running`,
      calls.filter((call) => call === 'squeue' || call === 'sacct').length,
      'calls',
      undefined,
      '1',
    );
    report(`monitor cycle, ${SIZES.monitor} jobs just started`, first.ms, 'ms');
    const steady: number[] = [];
    for (let repeat = 0; repeat < 5; repeat++)
      steady.push((await timed(async () => (await runCycle(ctx, { submit: false, monitor: true })).running)).ms);
    report(`monitor cycle, ${SIZES.monitor} running, none moved`, median(steady), 'ms');
  } finally {
    process.env.PATH = path;
  }
}

/** Resident memory of a real `gasp enqueue` process holding this many live passes (a fake Slurm keeps them running). */
async function memoryFigure(server: BenchServer, work: string): Promise<void> {
  progress(`memory: gasp enqueue with ${SIZES.live} live passes`);
  const live = SIZES.live;
  const db = await server.fresh('memory', live);
  const slurm = fakeSlurm(mkdtempSync(join(work, 'slurm-')));
  const dir = mkdtempSync(join(work, 'client-'));
  writeFileSync(
    join(dir, 'gasp.cfg'),
    `${server.configSection(db.name)}[client]\nsite = ${siteFile(work, 'slurm')}\ninterval = 0.5\nmax_claim = 500\n`,
  );
  // run as a user does: the executable, with the node flags of its #! line
  const child = spawn(
    join(PACKAGE_ROOT, 'bin', 'gasp.js'),
    ['enqueue', '-c', join(dir, 'gasp.cfg'), '--log-level', 'warn'],
    {
      env: { ...process.env, PATH: `${slurm.bin}:${process.env.PATH ?? ''}` },
      stdio: 'ignore',
    },
  );
  const held = async () =>
    (await db.view('passes', 'locked_by_site', { startkey: ['bench'], endkey: ['bench', {}], limit: 0 })).total_rows ??
    0;
  try {
    const deadline = Date.now() + 300_000;
    while ((await held()) < live && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1_000));
    // a few more cycles that monitor all of them
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    report(`client RSS, ${await held()} live passes (now)`, kb('VmRSS') / 1024, 'MB', undefined, '<= 150 MB');
    report(`client RSS, ${live} live passes (peak)`, kb('VmHWM') / 1024, 'MB', undefined, '<= 150 MB');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

function makeProductionFigure(work: string): void {
  const release = join(work, 'rat-9.9.9');
  const macros = SIZES.macros;
  progress(`make-production: ${macros} generated macros`);
  for (let index = 0; index < macros; index++) {
    const folder = join(release, 'mac', 'production', 'water', `group${index % 20}`);
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, `m${index}.mac`),
      `/rat/proc outroot\n/rat/procset file "\${OUTPUT}.root"\n/generator/add decaychain X${index}\n/rat/run/start \${NEVENTS}\n`,
    );
  }
  const times: number[] = [];
  for (let repeat = 0; repeat < SIZES.repeats; repeat++) {
    const started = performance.now();
    makeProductionInfo({
      ratDir: release,
      version: '9.9.9',
      production: { phases: ['water'], internalRateGenerators: [], modeOverrides: [] },
    });
    times.push(performance.now() - started);
  }
  report(`make-production, ${macros} macros`, macros / (median(times) / 1000), 'macros/s');
}

/** The job wrapper staging one output to the SE (copy to a temporary name, the SE's checks, rename) vs plain xrdcp. */
function stagingFigure(se: LocalSe, work: string): void {
  const { mb, repeats } = SIZES.staging;
  progress(`staging: the wrapper vs xrdcp, one ${mb} MB output, ${repeats} rounds`);
  mkdirSync(work, { recursive: true });
  const { wrapper, xrdcp } = stagingThroughput(work, se, mb, repeats);
  report(`staging one ${mb} MB output (wrapper)`, wrapper, 'MB/s', { name: 'plain xrdcp', value: xrdcp }, '>= 0.8');
}

/** Figures of a real storage element: a local XRootD server started for them (its own folder: xrootd runs as its own user). */
async function storageFigures(server: BenchServer, work: string): Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), 'gasp-bench-se-'));
  const se = await startLocalSe(folder);
  try {
    await grabThroughputFigure(se, join(work, 'storage'), SIZES.grab, { report, progress });
    stagingFigure(se, join(work, 'staging'));
    const files = quick ? 1_000 : 10_000;
    await verifyFigure(se, await server.fresh('verify', files / 10, 'completed'), files, { report, progress });
  } finally {
    await se.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (typeof url === 'string') {
    process.stderr.write(`${url}\n`);
    process.exitCode = 2;
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'gasp-bench-'));
  const started = performance.now();
  try {
    const server = await BenchServer.open(url, work);
    progress(`measuring ${server.name} at ${server.couch.url}${server.embedded === undefined ? '' : ' (embedded)'}`);
    try {
      const groups: Record<string, () => unknown> = {
        dispatch: () => dispatchFigures(server, work),
        sustained: () => sustainedFigure(server, work),
        monitor: () => monitorFigure(server, work),
        memory: () => memoryFigure(server, work),
        'make-production': () => makeProductionFigure(work),
        idle: () => idleFigures(server, work),
        storage: () => storageFigures(server, work),
        sites: () =>
          sitesFigures(server, work, SIZES.sites, { report, progress, print: (line) => json || console.log(line) }),
      };
      const unknown = only.filter((name) => !(name in groups));
      if (unknown.length > 0)
        throw new Error(`--only: ${unknown.join(', ')} is not one of ${Object.keys(groups).join(', ')}`);
      for (const [name, run] of Object.entries(groups)) if (only.length === 0 || only.includes(name)) await run();
    } finally {
      await server.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  progress(`bench done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (json) console.log(JSON.stringify({ server: url === undefined ? 'embedded' : url.href, figures }, null, 2));
}

await main();

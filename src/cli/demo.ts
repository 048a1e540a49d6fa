import { Option, type Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend } from '../backends/create.js';
import type { ClientContext } from '../client/context.js';
import { enqueue } from '../client/enqueue.js';
import { loadSite, type Site } from '../sites/site.js';
import { Couch } from '../db/couch.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import { writeFileAtomic } from '../files.js';
import { FIXTURE_JOBS, FIXTURE_RELEASE, GASP_VERSION } from '../paths.js';
import { addJobsToExactly } from '../submit/exactly.js';
import { submitRequestFile } from '../submit/submit.js';
import { storeInfoDoc } from '../production/info-store.js';
import { loadProcessingInfo } from '../production/processing-info.js';
import { fixtureProductionInfo } from '../production/production-info.js';
import { loggerFor, print, type GlobalOptions } from './context.js';
import { printStoreResult } from './make-production.js';
import { StartAborted } from '../server/embedded.js';
import { ServerClock } from '../db/clock.js';
import { SiteHeartbeat } from '../coordination/heartbeat.js';
import { stopOnSignal } from '../signals.js';
import { startPreparedServer, startSummaryTallies } from './serve.js';
import { startDashboard } from '../dashboard/server.js';
import { freePortOr } from '../server/ports.js';
import type { LocalSe } from '../storage/local-se.js';
import { grabFromDemoSe, startDemoSe } from './demo-se.js';

/** Where the demo's dashboard listens, or any free port when that one is taken. */
const DEMO_DASHBOARD_PORT = 8080;

interface DemoOptions extends GlobalOptions {
  dir: string;
  keep?: boolean;
  storage: 'file' | 'root';
}

/**
 * A site on this machine: the local backend, the fixture release set up by its env script, storage
 * in the demo folder or on the demo's XRootD storage element.
 */
function demoSite(dir: string, se: LocalSe | undefined): Site {
  const file = join(dir, 'demo-site.ini');
  writeFileSync(
    file,
    [
      'name = demo',
      'backend = local',
      'max_jobs = 4',
      se === undefined ? `storage = file://${join(dir, 'storage')}` : `storage = ${se.url}//snoplus`,
      ...(se === undefined ? [] : ['se = demo-se']),
      '[rat]',
      `7.0.8 = ${join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh')}`,
      '[local]',
      `workdir = ${join(dir, 'jobs')}`,
      '',
    ].join('\n'),
  );
  return loadSite(file);
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the whole chain on the embedded database with the bundled fixture release (what `npm start` runs)')
    .option('-d, --dir <folder>', 'folder for the demo database and files', '.gasp/demo')
    .option(
      '--keep',
      'keep the database and the dashboard running at the end, until Ctrl-C (the default on a terminal)',
    )
    .option('--no-keep', 'stop at the end, even on a terminal')
    .addOption(
      new Option(
        '--storage <kind>',
        "where the jobs' outputs go: file (a folder in the demo folder) or root (an XRootD storage element the demo starts; needs Debian's xrootd-server and xrootd-client)",
      )
        .choices(['file', 'root'])
        .default('file'),
    )
    .addHelpText('after', '\nExample:\n  npm start            # the same as: npx gasp demo\n  npx gasp demo --keep')
    .action(async (_options: DemoOptions, command: Command) => runDemo(command.optsWithGlobals<DemoOptions>()));
}

/** Starts the embedded database, runs the chain on it step by step, and stops it (at the end, or at Ctrl-C). */
async function runDemo(options: DemoOptions): Promise<void> {
  const log = loggerFor(options);
  print(`1. starting the embedded database in ${options.dir}`);
  const stop = stopOnSignal({ log });
  const server = await startPreparedServer(options.dir, 0, log, stop);
  const tallies = startSummaryTallies(new Couch({ url: server.url, log }), log);
  let se: LocalSe | undefined;
  // Ctrl-C between steps stops the chain and the database
  const checkpoint = () => {
    if (stop.signal.aborted) throw new StartAborted('stopped by a signal');
  };
  try {
    const couch = new Couch({ url: server.url, log, signal: stop.signal });
    const databases = { production: couch.use('data-production'), processing: couch.use('data-processing') };
    checkpoint();
    await storeInformation(databases, server.dir, log);
    checkpoint();
    await submitFixtureJobs(databases.production, server.dir);
    checkpoint();
    if (options.storage === 'root') {
      se = await startDemoSe(server.dir);
      print(`   the demo's storage element (xrootd, adler32 on the server): ${se.url}, files in ${se.data}`);
    }
    await runFixtureJobs(couch, databases.production, server.dir, se, log, stop.signal);
    checkpoint();
    await printSummary(databases, server.dir, se);
    let step = 6;
    if (se !== undefined) {
      checkpoint();
      print(`${step++}. the outputs back from the storage element`);
      await grabFromDemoSe(databases.production, server.dir);
    }
    print(`the database is at ${server.url.origin}`);
    await showDashboard(databases, options, log, stop.signalled, step);
  } finally {
    await Promise.all(tallies.map((tally) => tally.stop()));
    await se?.stop();
    await server.stop();
  }
  print(`stopped; the data stays in ${server.dir} (npx gasp serve --dir ${options.dir} serves it again)`);
}

interface DemoDatabases {
  production: Database;
  processing: Database;
}

/** Step 2: production information made from the fixture release, and its processing information, stored. */
async function storeInformation({ production, processing }: DemoDatabases, dir: string, log: Logger): Promise<void> {
  print(`2. production information for the fixture release ${FIXTURE_RELEASE}`);
  const made = fixtureProductionInfo();
  for (const warning of made.warnings) log.warn(warning);
  const file = join(dir, `${made.doc._id}.json`);
  writeFileAtomic(file, `${JSON.stringify(made.doc, null, 2)}\n`);
  print(
    `   RAT ${made.version.version}: ${made.macrosRead} macros, ${Object.keys(made.doc.modules).length} modules; wrote ${file}`,
  );
  printStoreResult(production.name, made.doc, await storeInfoDoc(production, made.doc), false);

  const processingInfo = loadProcessingInfo(join(FIXTURE_RELEASE, 'processing_information_7_0_8.json'));
  printStoreResult(processing.name, processingInfo, await storeInfoDoc(processing, processingInfo), false);
}

/** Step 3: the fixture request submitted, its jobs added to .exactly files in the demo folder. */
async function submitFixtureJobs(production: Database, dir: string): Promise<void> {
  print(`3. submitting ${FIXTURE_JOBS}`);
  const { result } = await submitRequestFile(production, FIXTURE_JOBS);
  print(
    result.alreadySubmitted
      ? `   already submitted (request ${result.requestId}): ${result.jobs.length} jobs`
      : `   submitted ${result.written} jobs (request ${result.requestId})`,
  );
  for (const { file, total } of addJobsToExactly(result.jobs, { dir })) print(`   ${file}: ${total} jobs`);
}

/** Step 4: the demo site's client runs until no pass is left to run. */
async function runFixtureJobs(
  couch: Couch,
  production: Database,
  dir: string,
  se: LocalSe | undefined,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  print("4. running the jobs with the local backend (the fixture release's stand-in rat)");
  const site = demoSite(dir, se);
  const ctx: ClientContext = {
    db: production,
    site,
    backend: createBackend(site),
    mode: 'production',
    queue: 'priority',
    maxClaim: 50,
    workRoot: join(dir, 'jobs'),
    leaseSeconds: 600,
    log: log.child({ component: 'enqueue', site: site.name }),
    now: () => new Date(),
    info: new Map(),
  };
  const heartbeat = demoHeartbeat(couch, production, site);
  await heartbeat.start();
  try {
    await enqueue(ctx, { submit: true, monitor: true, intervalMs: 300, untilIdle: true, signal });
  } finally {
    await heartbeat.stop();
  }
}

/** A heartbeat as a site's client writes one: sites status and the dashboard show the demo site. */
function demoHeartbeat(couch: Couch, production: Database, site: Site): SiteHeartbeat {
  return new SiteHeartbeat(production, new ServerClock(couch), {
    site: site.name,
    mode: 'production',
    version: GASP_VERSION,
    heartbeatSeconds: 600,
    staleSeconds: 1800,
    takesTurns: false,
    capabilities: {
      rat_versions: [...site.rat.versions.keys()],
      modes: site.modes,
      max_jobs: site.maxJobs,
      paused_labels: [],
      claims: true,
    },
  });
}

/** Step 5: passes by status in each database, and where the outputs and job folders are. */
async function printSummary(databases: DemoDatabases, dir: string, se: LocalSe | undefined): Promise<void> {
  print('5. summary');
  for (const db of [databases.production, databases.processing]) {
    const counts = await db.view<[string], number>('passes', 'by_status', { group_level: 1 });
    const summary = counts.rows.map((row) => `${row.key[0]} ${row.value}`).join(', ');
    print(`   ${db.name}: ${summary === '' ? 'no passes yet' : summary}`);
  }
  const outputs = se === undefined ? join(dir, 'storage') : `${se.url}//snoplus`;
  print(`   outputs: ${outputs}; job folders (logs, manifests): ${join(dir, 'jobs')}`);
}

/** Step 6: the dashboard, kept up until Ctrl-C when asked (or on a terminal). */
async function showDashboard(
  databases: DemoDatabases,
  options: DemoOptions,
  log: Logger,
  signalled: Promise<unknown>,
  step: number,
): Promise<void> {
  const dashboard = await startDashboard({
    host: '127.0.0.1',
    port: await freePortOr(DEMO_DASHBOARD_PORT),
    databases,
    staleSeconds: 1800,
    log,
  });
  print(`${step}. the dashboard: ${dashboard.url.href}`);
  const keep = options.keep ?? process.stdout.isTTY === true;
  if (keep) {
    print('Ctrl-C stops the dashboard and the database');
    await signalled;
  } else {
    print('   not kept up: the output is not a terminal (npx gasp demo --keep keeps it)');
  }
  await dashboard.close();
}

/**
 * `npm run test:soak [-- --passes N --seconds S]`: four real `gasp enqueue` clients on one database
 * (three dry sites whose backend fails some calls, one local site running the job wrapper) work
 * through N passes while a chaos driver kills clients with SIGKILL at random moments and starts them
 * again, and the database server is stopped and started twice. At the end every pass must be
 * completed, each attempt submitted exactly once (counted from the backends' own records: the dry
 * journals and the local backend's job records), no data document twice, no conflict left.
 * Prints the figures; exits 1 when any check fails. Not part of `npm test` (`.ci/run` runs it small).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Couch } from '../src/db/couch.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { jobId, productionInfoId, type DataDoc, type JobDoc, type Pass } from '../src/model/documents.js';
import { BUNDLED_VIEWS, FIXTURE_RELEASE } from '../src/paths.js';
import { fixtureProductionInfo } from '../src/production/production-info.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { freePort } from '../src/server/ports.js';
import { GASP_BIN } from './support/cli.js';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(process.argv[index + 1]);
};
const PASSES = argument('passes', 10_000);
const LIMIT_SECONDS = argument('seconds', 900);
/** One pass in fifty runs the real wrapper at the local site. */
const LOCAL_EVERY = 50;
const MODULE = 'PartialPo210';

const say = (line: string) => process.stdout.write(`${line}\n`);
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T;

interface Client {
  site: string;
  config: string;
  child?: ChildProcess;
  starts: number;
}

async function seed(db: Database): Promise<{ local: number }> {
  const info = fixtureProductionInfo().doc;
  // the dry sites have RAT 7.0.9 only and the local site 7.0.8 only: each pass has one kind of site
  await db.bulkDocs([info, { ...info, _id: productionInfoId('7.0.9'), rat_version: '7.0.9' }]);
  let local = 0;
  for (let start = 1; start <= PASSES; start += 5_000) {
    const docs: JobDoc[] = [];
    for (let run = start; run < Math.min(PASSES + 1, start + 5_000); run++) {
      const onLocal = run % LOCAL_EVERY === 0;
      if (onLocal) local += 1;
      const pass: Pass = {
        pass: 1,
        status: 'waiting',
        rat_version: onLocal ? '7.0.8' : '7.0.9',
        label: 'soak',
        priority: 0,
        created: new Date(1_700_000_000_000 + run).toISOString(),
        event_mode: 'number',
        amount: { events: 5 },
        template: { fill_volume: 'x' },
        attempts: [],
      };
      docs.push({ _id: jobId(MODULE, run), type: 'job', module: MODULE, run, passes: [pass] });
    }
    await db.bulkDocs(docs);
  }
  return { local };
}

function writeSites(dir: string, url: string, database: string): Client[] {
  const sites = [
    { site: 'dry-a', body: 'backend = dry\nmax_jobs = 2000\n[dry]\nfail_calls = 0.03\n[rat]\n7.0.9 = CVMFS\n' },
    { site: 'dry-b', body: 'backend = dry\nmax_jobs = 2000\n[dry]\nfail_calls = 0.03\n[rat]\n7.0.9 = CVMFS\n' },
    { site: 'dry-c', body: 'backend = dry\nmax_jobs = 2000\n[dry]\nfail_calls = 0.03\n[rat]\n7.0.9 = CVMFS\n' },
    {
      site: 'local-a',
      body: `backend = local\nmax_jobs = 6\n[rat]\n7.0.8 = ${join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh')}\n`,
    },
  ];
  return sites.map(({ site, body }) => {
    writeFileSync(
      join(dir, `${site}.ini`),
      `name = ${site}\nstorage = file://${dir}/storage\n${body}[local]\nworkdir = ${dir}/jobs-${site}\n`,
    );
    const config = join(dir, `${site}.cfg`);
    // stale is longer than a killed client takes to come back (at most ~3 s): a site the chaos
    // restarts is never taken for dead, so its claims stay with it and nothing runs twice
    writeFileSync(
      config,
      `[couchdb]\nurl = ${url}\ndatabase = ${database}\n[client]\nsite = ${site}.ini\ninterval = 0.3\nmax_claim = 250\n[coordination]\nheartbeat = 2\nstale = 15\n`,
    );
    return { site, config, starts: 0 };
  });
}

/** Exits no one asked for (a client that gave up by itself), by site and exit code. */
const selfExits: string[] = [];
/** Set when the soak stops its clients itself at the end. */
let stopping = false;

function start(client: Client, dir: string): void {
  client.starts += 1;
  const child = spawn(
    process.execPath,
    [GASP_BIN, 'enqueue', '-c', client.config, '--lease', '30', '--log-level', 'error'],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, GASP_FAKE_RAT_SECONDS: '0.05' },
      cwd: dir,
    },
  );
  child.once('exit', (code) => {
    if (code !== null && !stopping) selfExits.push(`${client.site} exit ${code}`);
  });
  client.child = child;
}

async function kill(client: Client, signal: NodeJS.Signals): Promise<void> {
  const child = client.child;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/** The job names each backend says it was given, one entry per submission. */
function submissions(dir: string, clients: readonly Client[]): string[] {
  return clients.flatMap(({ site }) => {
    const journal = join(dir, `jobs-${site}`, '.dry-backend', 'journal.jsonl');
    if (existsSync(journal))
      return readFileSync(journal, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { name: string }).name);
    const records = join(dir, `jobs-${site}`, '.local-backend');
    if (!existsSync(records)) return [];
    return readdirSync(records)
      .filter((name) => name.endsWith('.json'))
      .map((name) => (JSON.parse(readFileSync(join(records, name), 'utf8')) as { name: string }).name);
  });
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-soak-'));
  const port = await freePort();
  let server = await EmbeddedServer.start({ dir: join(dir, 'db'), port });
  const couch = new Couch({ url: server.url, timeoutMs: 120_000, retry: { attempts: 30, baseMs: 200, maxMs: 2_000 } });
  const db = couch.use('soak');
  await db.create();
  await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
  const { local } = await seed(db);
  say(`soak: ${PASSES} passes (${local} on the local site), 4 clients, folder ${dir}; indexing first`);
  // as after `gasp views push --wait`: the clients start on built indexes, and the chaos tests them, not the first build
  for (const view of ['ready_priority', 'locked_by_site', 'leases', 'by_status'])
    await db.view('passes', view, { limit: 0 }, { timeoutMs: 0 });
  const clients = writeSites(dir, String(server.url), 'soak');
  const started = Date.now();
  for (const client of clients) start(client, dir);
  let interrupted = false;
  process.once('SIGINT', () => (interrupted = true));
  process.once('SIGTERM', () => (interrupted = true));

  let kills = 0;
  let restarts = 0;
  let done = false;
  const count = async () => {
    const rows = await db.view<[string], number>('passes', 'by_status', { group_level: 1 });
    return Object.fromEntries(rows.rows.map((row) => [row.key[0], row.value])) as Record<string, number>;
  };
  // chaos: a client killed every 1-3 s and started again 0.3-2 s later
  const chaos = (async () => {
    while (!done) {
      await wait(1_000 + Math.random() * 2_000);
      if (done) break;
      const victim = pick(clients);
      await kill(victim, 'SIGKILL');
      kills += 1;
      await wait(300 + Math.random() * 1_700);
      if (!done) start(victim, dir);
    }
  })();
  try {
    for (;;) {
      const counts = await count().catch(() => undefined);
      const completed = counts?.completed ?? 0;
      if (counts !== undefined)
        say(
          `  ${Math.round((Date.now() - started) / 1000)} s: ${Object.entries(counts)
            .map(([status, n]) => `${status} ${n}`)
            .join(', ')}; kills ${kills}, database restarts ${restarts}`,
        );
      // the database goes away twice: at a third and at two thirds of the work
      if (counts !== undefined && restarts < 2 && completed >= ((restarts + 1) * PASSES) / 3) {
        await server.stop();
        restarts += 1;
        await wait(2_000);
        server = await EmbeddedServer.start({ dir: join(dir, 'db'), port });
      }
      if (completed >= PASSES || interrupted) break;
      if (Date.now() - started > LIMIT_SECONDS * 1000) {
        say(`soak: gave up after ${LIMIT_SECONDS} s`);
        break;
      }
      await wait(2_000);
    }
  } finally {
    done = true;
    await chaos;
    stopping = true;
    await Promise.all(clients.map((client) => kill(client, 'SIGTERM')));
  }
  const seconds = (Date.now() - started) / 1000;

  const all = await db.allDocs<(JobDoc | DataDoc) & { _conflicts?: string[] }>({ include_docs: true, conflicts: true });
  const docs = all.rows.flatMap((row) => (row.doc ? [row.doc] : []));
  const jobDocs = docs.filter((doc): doc is JobDoc & { _conflicts?: string[] } => doc.type === 'job');
  const passes = jobDocs.flatMap((doc) => doc.passes);
  const lost = passes.filter((pass) => pass.status !== 'completed').length;
  const names = submissions(dir, clients);
  const perAttempt = new Map<string, number>();
  for (const name of names) perAttempt.set(name, (perAttempt.get(name) ?? 0) + 1);
  const duplicates = [...perAttempt.values()].filter((n) => n > 1).length;
  // the work of a pass, whichever attempt: a pass that reached a backend twice ran twice (the soak retries nothing on purpose)
  const perPass = new Map<string, number>();
  for (const name of names) {
    const pass = name.replace(/-[0-9a-f]{8}$/, '');
    perPass.set(pass, (perPass.get(pass) ?? 0) + 1);
  }
  const ranTwice = [...perPass].filter(([, n]) => n > 1);
  // each completed pass's last attempt reached a backend exactly once
  const finalAttempts = jobDocs.flatMap((doc) =>
    doc.passes.flatMap((pass) => {
      const token = pass.attempts.at(-1)?.token;
      return token === undefined ? [] : [`gasp-${MODULE}-${doc.run}-p${pass.pass}-s0-${token.slice(0, 8)}`];
    }),
  );
  const unseen = finalAttempts.filter((name) => !perAttempt.has(name)).length;
  const dataDocs = docs.filter((doc): doc is DataDoc & { _conflicts?: string[] } => doc.type === 'data');
  const doubleFiles = dataDocs.filter((doc) => doc.files.length !== 1).length;
  const conflicts = docs.filter((doc) => doc._conflicts !== undefined).length;
  const attempts = passes.reduce((sum, pass) => sum + pass.attempts.length, 0);

  say(
    `soak figures: passes ${passes.length}, completed ${passes.length - lost}, attempts ${attempts}, backend submissions ${names.length}, client kills ${kills} (starts ${clients.reduce((sum, client) => sum + client.starts, 0)}), database restarts ${restarts}`,
  );
  const retried = new Map<string, number>();
  for (const pass of passes)
    for (const attempt of pass.attempts.slice(0, -1))
      retried.set(attempt.reason ?? attempt.status, (retried.get(attempt.reason ?? attempt.status) ?? 0) + 1);
  say(
    `  earlier attempts, by why they ended: ${retried.size === 0 ? 'none' : [...retried].map(([why, n]) => `${n} × ${why}`).join('; ')}`,
  );
  say(`  clients that stopped by themselves: ${selfExits.length === 0 ? 'none' : selfExits.join(', ')}`);
  say(`  backend submissions ${names.length}, passes ${passes.length}`);
  say(
    `  passes whose work reached a backend more than once: ${ranTwice.length}${
      ranTwice.length === 0
        ? ''
        : ` (${ranTwice
            .slice(0, 5)
            .map(([name, n]) => `${name} ×${n}`)
            .join(', ')}${ranTwice.length > 5 ? ', …' : ''})`
    }`,
  );
  say(`  duplicates (an attempt submitted twice): ${duplicates}`);
  say(`  lost (not completed at the end): ${lost}`);
  say(`  completed attempts missing from the backends' records: ${unseen}`);
  say(`  data documents: ${dataDocs.length} (expected ${local}), with a file twice: ${doubleFiles}`);
  say(`  conflicts left: ${conflicts}`);
  say(`  wall time: ${seconds.toFixed(0)} s (${(passes.length / seconds).toFixed(0)} passes/s)`);
  await server.stop();
  const ok =
    names.length === passes.length &&
    ranTwice.length === 0 &&
    duplicates === 0 &&
    lost === 0 &&
    unseen === 0 &&
    dataDocs.length === local &&
    doubleFiles === 0 &&
    conflicts === 0 &&
    restarts === 2;
  if (ok) rmSync(dir, { recursive: true, force: true });
  say(ok ? 'soak: passed' : `soak: FAILED (kept ${dir})`);
  return ok ? 0 : 1;
}

process.exitCode = await main();

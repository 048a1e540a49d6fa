import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Couch } from '../src/db/couch.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { UnreachableError } from '../src/db/errors.js';
import { UnavailableError } from '../src/errors.js';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { GASP_BIN, runGasp } from './support/cli.js';
import { freePort } from '../src/server/ports.js';
import type { JobDoc, ProcessingInfoDoc, ProductionInfoDoc, RunDoc } from '../src/model/documents.js';
import { loadConfig } from '../src/config/config.js';
import { folderSource } from '../src/processing/raw-source.js';
import { watchSource } from '../src/processing/watch.js';
import { DryBackend } from '../src/backends/dry.js';
import type { ClientContext } from '../src/client/context.js';
import { enqueue } from '../src/client/enqueue.js';
import { loadSite } from '../src/sites/site.js';
import { addRuns } from '../src/processing/runs.js';
import { followUntilSeen } from './support/follow.js';
import { captureLog } from './support/log.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { EmbeddedServer } from '../src/server/embedded.js';
import { submitRequestFile } from '../src/submit/submit.js';

/** This file runs its own server, to take it away in the middle of the work. */
const dir = mkdtempSync(join(tmpdir(), 'gasp-outage-db-'));
let server: EmbeddedServer;
let port: number;

const PROCESSING: ProcessingInfoDoc = {
  _id: 'processing_information_7_0_8',
  type: 'processing_information',
  rat_version: '7.0.8',
  modules: { Processing: { level: 'run', path: 'p.mac', outputs: ['ratds'], prerequisites: [], raw_processor: true } },
  run_types: { Physics: ['Processing'] },
};

const INFO: ProductionInfoDoc = {
  _id: 'production_information_7_0_8',
  type: 'production_information',
  rat_version: '7.0.8',
  modules: {
    ScintSolar: {
      path: 'mac/production/scint/solar.mac',
      phase: 'scint',
      event_mode: 'time',
      outputs: ['ratds'],
      template: [],
      sha256: 'x',
    },
  },
};

function database(name: string, attempts = 2): Database {
  return new Couch({ url: server.url, retry: { attempts, baseMs: 100, maxMs: 400 } }).use(name);
}

async function prepare(name: string): Promise<{ db: Database; file: string }> {
  const db = database(name);
  await db.create();
  await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
  await db.put(INFO);
  const file = join(mkdtempSync(join(tmpdir(), 'gasp-outage-')), 'jobs.json');
  writeFileSync(
    file,
    JSON.stringify({
      rat_v: '7.0.8',
      label: 'outage',
      modules: [{ module: 'ScintSolar', t_run: 1, t_format: 'h', n_runs: 10 }],
    }),
  );
  return { db, file };
}

async function passesPerRun(db: Database): Promise<Array<[number, number]>> {
  const all = await db.allDocs<JobDoc>({ include_docs: true, startkey: 'job:', endkey: 'job:\uffff' });
  return all.rows
    .flatMap((row) => (row.doc ? [[row.doc.run, row.doc.passes.length] as [number, number]] : []))
    .sort((a, b) => a[0] - b[0]);
}

beforeAll(async () => {
  server = await EmbeddedServer.start({ dir });
  port = server.port;
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a submit interrupted by a database outage', () => {
  it('completes what is missing when run again, duplicating nothing', async () => {
    const { db, file } = await prepare('interrupted');
    let batches = 0;
    const error = await submitRequestFile(db, file, {
      batchSize: 3,
      onProgress: async () => {
        batches += 1;
        if (batches === 1) await server.stop();
      },
    }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(UnreachableError);

    server = await EmbeddedServer.start({ dir, port });
    expect(await passesPerRun(db)).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    const { result } = await submitRequestFile(db, file, { batchSize: 3 });
    expect(result.written).toBe(7);
    expect(result.jobs).toHaveLength(10);
    expect(await passesPerRun(db)).toEqual(Array.from({ length: 10 }, (_, index) => [index + 1, 1]));
    const again = await submitRequestFile(db, file);
    expect(again.result.alreadySubmitted).toBe(true);
  });

  it('rides out a database that crashes and comes back in the middle, in one run', async () => {
    const { file } = await prepare('restarted');
    const patient = database('restarted', 40);
    let batches = 0;
    const { result } = await submitRequestFile(patient, file, {
      batchSize: 2,
      onProgress: () => {
        batches += 1;
        // the supervisor starts it again; the client's retries carry the submit through
        if (batches === 2 && server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
      },
    });
    // the supervisor counts a restart once the new server answers its own check, which may come after our retries got through
    for (let waited = 0; server.restarts === 0 && waited < 10_000; waited += 100)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.restarts).toBeGreaterThanOrEqual(1);
    expect(result.jobs).toHaveLength(10);
    expect(await passesPerRun(patient)).toEqual(Array.from({ length: 10 }, (_, index) => [index + 1, 1]));
  });
});

describe('submitting the same request more than once', () => {
  it('lets one submit of a request write at a time; the other is told to wait, and nothing is written twice', async () => {
    const { db, file } = await prepare('racing');
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = submitRequestFile(db, file, { batchSize: 2, onProgress: () => held });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await submitRequestFile(db, file).catch((thrown: unknown) => thrown);
    expect(second).toBeInstanceOf(UnavailableError);
    expect((second as Error).message).toMatch(
      /^submit:req-\w+ is being written by process \d+ on .* \(its lease ends .*\); run the same command again after that$/,
    );
    release();
    await first;
    expect((await submitRequestFile(db, file)).result.alreadySubmitted).toBe(true);
    expect(await passesPerRun(db)).toEqual(Array.from({ length: 10 }, (_, index) => [index + 1, 1]));
  });

  it('completes an interrupted --new-pass instead of starting another generation', async () => {
    const { db, file } = await prepare('newpass');
    await submitRequestFile(db, file);
    let batches = 0;
    const interrupted = await submitRequestFile(db, file, {
      newPass: true,
      batchSize: 3,
      onProgress: () => {
        batches += 1;
        if (batches === 1) throw new Error('killed');
      },
    }).catch((thrown: unknown) => thrown);
    expect((interrupted as Error).message).toBe('killed');
    const resumed = await submitRequestFile(db, file, { newPass: true });
    expect(resumed.result.generation).toBe(2);
    expect(resumed.result.written).toBe(7);
    expect(await passesPerRun(db)).toEqual(Array.from({ length: 10 }, (_, index) => [index + 1, 2]));
  });

  it('completes a submit killed with SIGKILL when run again', async () => {
    const { db, file } = await prepare('killed');
    const big = join(mkdtempSync(join(tmpdir(), 'gasp-killed-')), 'jobs.json');
    writeFileSync(
      big,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'killed',
        modules: [{ module: 'ScintSolar', t_run: 1, t_format: 'h', n_runs: 3000 }],
      }),
    );
    void file;
    const env = { GASP_COUCHDB_URL: server.url.origin, GASP_COUCHDB_DATABASE: 'killed' };
    const child = spawn(process.execPath, [GASP_BIN, 'submit', big], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    for (let waited = 0; waited < 200 && (await db.info()).doc_count < 600; waited++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // a batch the killed client had sent may still land: count once the database stops changing
    for (let before = -1, waited = 0; waited < 50; waited++) {
      const count = (await db.info()).doc_count;
      if (count === before) break;
      before = count;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const partial = (await passesPerRun(db)).length;
    expect(partial).toBeGreaterThan(0);
    const rerun = await runGasp(['submit', big, '--json'], {
      env,
      cwd: mkdtempSync(join(tmpdir(), 'gasp-killed-out-')),
    });
    expect(rerun.code).toBe(0);
    const result = JSON.parse(rerun.stdout) as { written: number; jobs: unknown[] };
    expect(result.jobs).toHaveLength(3000);
    expect(result.written).toBe(3000 - partial);
    const runs = await passesPerRun(db);
    expect(runs).toHaveLength(3000);
    expect(runs.every(([, passes]) => passes === 1)).toBe(true);
  }, 60_000);
});

describe('following runs through a database outage', () => {
  it('reconnects with backoff, logs the outage once each way, and catches the new run', async () => {
    const name = 'follow';
    const setup = database(name);
    await setup.create();
    await pushDesignDocs(setup, loadDesignDocs(BUNDLED_VIEWS));
    await setup.put(PROCESSING);
    const { log, lines } = captureLog();
    const db = new Couch({ url: server.url, retry: { attempts: 200, baseMs: 100, maxMs: 300 }, log }).use(name);
    const following = followUntilSeen(db, PROCESSING, 7);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    server = await EmbeddedServer.start({ dir, port });
    await addRuns(database(name), [
      { run: 7, run_type: 'Physics', subfiles: [{ name: 'r7.zdab', size: 1, checksum: 'c' }] },
    ]);
    expect(await following).toEqual([7]);
    expect(lines.map((line) => line.msg.split(' (')[0])).toEqual([
      'CouchDB unavailable',
      expect.stringMatching(/^CouchDB reachable again/),
    ]);
  });
});

describe('watching raw files through a database outage', () => {
  it('keeps polling while the database is away, logs the outage once each way, and registers the run once it is back', async () => {
    const name = 'watch';
    const setup = database(name);
    await setup.create();
    await pushDesignDocs(setup, loadDesignDocs(BUNDLED_VIEWS));
    const { log, lines } = captureLog();
    const db = new Couch({ url: server.url, retry: { attempts: 200, baseMs: 100, maxMs: 300 }, log }).use(name);
    const folder = mkdtempSync(join(tmpdir(), 'gasp-outage-raw-'));
    const stop = new AbortController();
    const patterns = loadConfig('/nonexistent/gasp.cfg', { missingIsEmpty: true, env: {} }).processing;
    const watching = watchSource(
      db,
      folderSource(folder),
      { patterns, settleMs: 600_000 },
      {
        intervalMs: 200,
        signal: stop.signal,
        log,
      },
    );
    await server.stop();
    writeFileSync(join(folder, 'SNOP_0000000007_000.zdab'), 'raw data');
    writeFileSync(join(folder, 'SNOP_0000000007.closed'), '');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    server = await EmbeddedServer.start({ dir, port });
    let run: RunDoc | undefined;
    for (let waited = 0; run === undefined && waited < 15_000; waited += 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      run = (await database(name).allDocs<RunDoc>({ keys: ['run:7'], include_docs: true })).rows[0]?.doc ?? undefined;
    }
    stop.abort();
    await watching;
    expect(run).toMatchObject({ run: 7, complete: true, subfiles: [{ name: 'SNOP_0000000007_000.zdab', size: 8 }] });
    const said = lines.map((line) => line.msg.split(' (')[0]);
    expect(said.filter((line) => line === 'CouchDB unavailable')).toHaveLength(1);
    expect(said.filter((line) => line?.startsWith('CouchDB reachable again'))).toHaveLength(1);
  });
});

describe('the enqueue client through a database outage', () => {
  it('backs off while the database is away and completes every pass once it is back', async () => {
    const { db, file } = await prepare('enqueue-outage');
    await submitRequestFile(db, file);
    const { log, lines } = captureLog();
    const client = new Couch({ url: server.url, retry: { attempts: 2, baseMs: 50, maxMs: 100 }, log }).use(
      'enqueue-outage',
    );
    const siteDir = mkdtempSync(join(tmpdir(), 'gasp-outage-site-'));
    writeFileSync(
      join(siteDir, 'site.ini'),
      `name = outage-site\nbackend = dry\nmax_jobs = 3\nstorage = file://${siteDir}/storage\n[rat]\n7.0.8 = CVMFS\n`,
    );
    const backend = new DryBackend();
    const ctx: ClientContext = {
      db: client,
      site: loadSite(join(siteDir, 'site.ini')),
      backend,
      mode: 'production',
      queue: 'priority',
      maxClaim: 3,
      workRoot: join(siteDir, 'jobs'),
      leaseSeconds: 600,
      log,
      now: () => new Date(),
      info: new Map(),
    };
    const controller = new AbortController();
    let cycles = 0;
    const running = enqueue(ctx, {
      submit: true,
      monitor: true,
      intervalMs: 100,
      untilIdle: true,
      signal: controller.signal,
      onCycle: () => (cycles += 1),
    });
    while (cycles < 1) await new Promise((resolve) => setTimeout(resolve, 20));
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    server = await EmbeddedServer.start({ dir, port });
    await running;
    const passes = (await passesPerRun(db)).length;
    expect(passes).toBe(10);
    const all = await db.allDocs<JobDoc>({ include_docs: true, startkey: 'job:', endkey: 'job:\uffff' });
    expect(all.rows.every((row) => row.doc?.passes[0]?.status === 'completed')).toBe(true);
    expect(backend.submitted).toHaveLength(10);
    expect(lines.some((line) => line.msg === 'cycle failed; backing off, nothing is lost')).toBe(true);
  }, 60_000);
});

/** A real `gasp enqueue` of a dry site on `url`, polling every second, from a folder of its own. */
function startEnqueue(url: string, database: string, timeoutSeconds = 30) {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-sigint-'));
  writeFileSync(
    join(dir, 'site.ini'),
    `name = sigint\nbackend = dry\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
  );
  writeFileSync(
    join(dir, 'gasp.cfg'),
    `[couchdb]\nurl = ${url}\ndatabase = ${database}\ntimeout = ${timeoutSeconds}\n[client]\nsite = site.ini\ninterval = 1\n`,
  );
  const child = spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', join(dir, 'gasp.cfg')], {
    cwd: dir,
    env: { ...process.env, GASP_CONFIG: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const until = async (text: string) => {
    for (let waited = 0; waited < 300 && !stderr.includes(text); waited++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stderr).toContain(text);
  };
  /** SIGINT, then the exit code and how long the client took to exit. */
  const interrupt = async () => {
    const sent = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    return { code, ms: Date.now() - sent };
  };
  return { until, interrupt, stderr: () => stderr };
}

describe('SIGINT to an enqueue waiting on a database that is down', () => {
  it('stops at once with exit code 0 when the database was never there', async () => {
    const client = startEnqueue(`http://127.0.0.1:${await freePort()}`, 'nowhere');
    await client.until('CouchDB unavailable');
    const { code, ms } = await client.interrupt();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2_000);
    expect(client.stderr()).toContain('enqueue stopped before it reached the database; it claimed nothing');
  });

  it('stops at once with exit code 0 while a retry waits on a server that takes connections and never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const client = startEnqueue(
      `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
      'silent',
      4,
    );
    try {
      // the first try times out after 4 s; the second starts within 1 s of that and would wait 4 s more
      await client.until('CouchDB unavailable');
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const { code, ms } = await client.interrupt();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('stops at once with exit code 0 when the database went away while it ran', async () => {
    await prepare('sigint-outage');
    const client = startEnqueue(server.url.origin, 'sigint-outage');
    await client.until('cycle 1:');
    await server.stop();
    try {
      await client.until('CouchDB unavailable');
      const { code, ms } = await client.interrupt();
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2_000);
    } finally {
      server = await EmbeddedServer.start({ dir, port });
    }
  });
});

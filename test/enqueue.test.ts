import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GASP_BIN, runGasp } from './support/cli.js';
import { BackendError } from '../src/backends/backend.js';
import { DryBackend } from '../src/backends/dry.js';
import { LocalBackend } from '../src/backends/local.js';
import { claimPasses } from '../src/client/claim.js';
import { jobFolder, prepareJob } from '../src/backends/prepare.js';
import { readManifest } from '../src/backends/prepare.js';
import { recordData } from '../src/client/record.js';
import { runCycle } from '../src/client/cycle.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import type { DataDoc, JobDoc, ProcessingInfoDoc, ReadyPass, RunDoc } from '../src/model/documents.js';
import { processRuns } from '../src/processing/process.js';
import { addRuns } from '../src/processing/runs.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { submitRequestFile } from '../src/submit/submit.js';
import { couchSection, testCouch, uniqueName } from './support/couch.js';
import { FIXTURE_RELEASE } from './support/fixture.js';
import { context, databaseWithJobs, INFO, jobs } from './support/jobs.js';
import { captureLog, WARN } from './support/log.js';
import { heartbeatId, type HeartbeatDoc } from '../src/model/coordination.js';

const CYCLE = { submit: true, monitor: true } as const;

describe('the enqueue client', () => {
  it('never lets two clients on one database run the same pass', async () => {
    const db = await databaseWithJobs(30);
    const [a, b] = [new DryBackend(), new DryBackend()];
    const sites = [context(db, 'site-a', a, 20), context(db, 'site-b', b, 20)];
    for (let round = 0; round < 6; round++) await Promise.all(sites.map((ctx) => runCycle(ctx, CYCLE)));
    const passes = (await jobs(db)).flatMap((doc) => doc.passes);
    expect(passes).toHaveLength(30);
    expect(passes.every((pass) => pass.status === 'completed' && pass.attempts.length === 1)).toBe(true);
    // every pass ran once, on one of the two sites (which one is the race's business)
    expect(a.submitted.length + b.submitted.length).toBe(30);
    expect(new Set([...a.submitted, ...b.submitted].map((job) => job.name.replace(/-[0-9a-f]{8}$/, ''))).size).toBe(30);
  });

  it('runs fixture jobs through the local backend and records verified outputs as data documents', async () => {
    const db = await databaseWithJobs(2);
    const ctx = context(
      db,
      'local',
      new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 }),
    );
    const stats = await runCycle(ctx, CYCLE);
    expect(stats).toMatchObject({ claimed: 2, submitted: 2 });
    // the two jobs may end in different cycles
    let completed = stats.completed;
    for (let wait = 0; wait < 50 && completed < 2; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      completed += (await runCycle(ctx, CYCLE)).completed;
    }
    expect(completed).toBe(2);
    const data = await db.allDocs<DataDoc>({ include_docs: true, startkey: 'data:', endkey: 'data:\uffff' });
    expect(data.rows.map((row) => row.id).sort()).toEqual([
      'data:PartialPo210:1:1:ratds',
      'data:PartialPo210:2:1:ratds',
    ]);
    expect(data.rows[0]?.doc?.files[0]).toMatchObject({
      subjob: 0,
      name: 'PartialPo210_r1_p1_s0.root',
      guid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/),
      url: expect.stringMatching(/^file:\/\//),
    });
    const job = (await jobs(db))[0];
    expect(Object.keys(job?._attachments ?? {}).sort()).toEqual(['p1-s0.err', 'p1-s0.out']);
    // recording the same manifest again changes nothing
    const pass = job?.passes[0];
    if (job === undefined || pass === undefined) throw new Error('no job');
    const manifest = readManifest(join(jobFolder(ctx.workRoot, job.module, job.run, pass, 0), 'manifest.json'));
    if (manifest === undefined) throw new Error('no manifest');
    const revs = data.rows.map((row) => row.doc?._rev);
    expect(await recordData(ctx, [{ doc: job, pass, manifests: [{ subjob: 0, manifest }] }])).toBe(0);
    const again = await db.allDocs<DataDoc>({ include_docs: true, startkey: 'data:', endkey: 'data:\uffff' });
    expect(again.rows.map((row) => row.doc?._rev)).toEqual(revs);
  });

  it('fails a pass whose stored output does not match its manifest', async () => {
    const db = await databaseWithJobs(1);
    const ctx = context(
      db,
      'corrupt',
      new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 }),
    );
    await runCycle(ctx, { submit: true, monitor: false });
    const storage = join(
      ctx.site.storage.kind === 'file' ? ctx.site.storage.root : '',
      'enq/PartialPo210/1/1/PartialPo210_r1_p1_s0.root',
    );
    for (let wait = 0; wait < 50; wait++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (
        (await ctx.backend.status([(await jobs(db))[0]?.passes[0]?.subjobs?.[0]?.backend_id ?? ''])).values().next()
          .value?.state === 'completed'
      )
        break;
    }
    writeFileSync(storage, 'corrupted');
    await runCycle(ctx, CYCLE);
    const pass = (await jobs(db))[0]?.passes[0];
    expect(pass?.status).toBe('failed');
    expect(pass?.attempts[0]?.reason).toMatch(/has 9 bytes, the manifest says \d+/);
  });

  it('skips a malformed job document and names it once, and goes on with the others', async () => {
    const db = await databaseWithJobs(3);
    const good = (await jobs(db))[0];
    if (good === undefined) throw new Error('no job');
    const pass = good.passes[0];
    // the same pass shape three times, each broken in its own way, as hand edits or old tools leave them
    const { attempts: _attempts, ...noAttempts } = pass ?? ({} as NonNullable<typeof pass>);
    await db.bulkDocs([
      { _id: 'job:PartialPo210:900', type: 'job', module: 'PartialPo210', run: 900, passes: [noAttempts] },
      { _id: 'job:PartialPo210:901', type: 'job', module: 'PartialPo210', run: 901, passes: [{ ...pass, label: 7 }] },
      { _id: 'job:PartialPo210:902', type: 'job', module: 'PartialPo210', run: 902, passes: { 1: pass } },
    ]);
    const { log, lines } = captureLog();
    const backend = new DryBackend();
    const ctx = { ...context(db, 'careful', backend), log };
    const first = await runCycle(ctx, CYCLE);
    await runCycle(ctx, CYCLE);
    expect(first.claimed).toBe(3);
    expect(backend.submitted).toHaveLength(3);
    expect(lines.filter((line) => line.level === WARN).map((line) => line.msg)).toEqual([
      'skipped malformed job document job:PartialPo210:900: pass 1: attempts is not a list',
      'skipped malformed job document job:PartialPo210:901: pass 1: label 7 is not a label or a list of labels',
    ]);
  });

  it('keeps a pass small however often it is retried: the last 20 attempts, and a count of the older ones', async () => {
    const db = await databaseWithJobs(1);
    const sizes: number[] = [];
    for (let cycle = 0; cycle < 26; cycle++) {
      // a backend that knows no job: each cycle the pass is lost, back to waiting, and claimed again
      await runCycle(context(db, 'forgetful', new DryBackend()), CYCLE);
      sizes.push(JSON.stringify((await jobs(db))[0]).length);
    }
    const pass = (await jobs(db))[0]?.passes[0];
    expect(pass?.attempts).toHaveLength(20);
    expect(pass?.attempts_dropped).toBe(6);
    expect(pass?.attempts.slice(0, -1).every((attempt) => attempt.status === 'lost')).toBe(true);
    expect(sizes.at(-1)).toBeLessThan((sizes[20] ?? 0) * 1.05);
  });

  it('cancels the jobs a pass did submit when another of its jobs is refused, and records them', async () => {
    const db = await databaseWithJobs(1);
    const [doc] = await jobs(db);
    if (doc === undefined) throw new Error('no job');
    await db.put({
      ...doc,
      passes: doc.passes.map((pass) => ({
        ...pass,
        subjobs: [
          { index: 0, events: 5 },
          { index: 1, events: 5 },
        ],
      })),
    });
    const backend = new DryBackend();
    const submit = backend.submit.bind(backend);
    backend.submit = async (batch) => {
      if (batch.some((job) => job.name.includes('-s1-')))
        throw new BackendError('site refusing: sbatch: error: QOSMaxSubmitJobPerUserLimit');
      return submit(batch);
    };
    const cancelled: string[] = [];
    backend.cancel = async (ids) => void cancelled.push(...ids);
    const stats = await runCycle(context(db, 'half-refused', backend), { submit: true, monitor: false });
    expect(stats.failed).toBe(1);
    const pass = (await jobs(db))[0]?.passes[0];
    expect(pass?.status).toBe('failed');
    expect(pass?.subjobs?.[0]).toMatchObject({ backend_id: cancelled[0], state: 'failed' });
    expect(pass?.subjobs?.[1]?.backend_id).toBeUndefined();
    expect(cancelled).toHaveLength(1);
  });

  it('submits a pass claimed before a crash exactly once after the restart', async () => {
    const db = await databaseWithJobs(3);
    const backend = new DryBackend();
    const ctx = context(db, 'crashy', backend);
    const ready = await db.view<unknown, ReadyPass>('passes', 'ready_priority');
    // claimed, then the client died before submitting anything
    await claimPasses(
      ctx,
      ready.rows.map((row) => row.value),
    );
    expect(backend.submitted).toHaveLength(0);
    const restarted = context(db, 'crashy', backend);
    await runCycle(restarted, CYCLE);
    await runCycle(restarted, CYCLE);
    expect(backend.submitted).toHaveLength(3);
    expect(
      (await jobs(db)).every((doc) => doc.passes[0]?.status === 'completed' && doc.passes[0].attempts.length === 1),
    ).toBe(true);
  });

  it('finds a job that reached the backend before the client died, instead of submitting it again', async () => {
    const db = await databaseWithJobs(2);
    const backend = new DryBackend();
    const ctx = context(db, 'killed-after-submit', backend);
    const ready = await db.view<unknown, ReadyPass>('passes', 'ready_priority');
    const claimed = await claimPasses(
      ctx,
      ready.rows.map((row) => row.value),
    );
    // the jobs reached the backend, then the client died before writing their ids
    const production = INFO.modules.PartialPo210;
    if (production === undefined) throw new Error('fixture lost PartialPo210');
    await backend.submit(
      await Promise.all(
        claimed.map(({ doc, pass }) =>
          prepareJob(
            ctx.site,
            { module: doc.module, run: doc.run, pass, subjob: 0, production },
            ctx.workRoot,
            pass.claim?.token,
          ),
        ),
      ),
    );
    await runCycle(context(db, 'killed-after-submit', backend), CYCLE);
    await runCycle(context(db, 'killed-after-submit', backend), CYCLE);
    expect(backend.submitted).toHaveLength(2);
    expect((await jobs(db)).map((doc) => doc.passes[0]?.status)).toEqual(['completed', 'completed']);
  });

  it('never expires its own claims, even when it does not monitor (--nomon)', async () => {
    const db = await databaseWithJobs(2);
    const backend = new DryBackend();
    const ctx = { ...context(db, 'busy-site', backend), leaseSeconds: -1 };
    await runCycle(ctx, { submit: true, monitor: false });
    const second = await runCycle(ctx, { submit: true, monitor: false });
    expect(second.lost).toBe(0);
    expect(backend.submitted).toHaveLength(2);
  });

  it('renews its leases every cycle, also when it does not monitor, so no other site takes its running passes', async () => {
    const db = await databaseWithJobs(2);
    const ctx = { ...context(db, 'no-monitor', new DryBackend()), leaseSeconds: 2 };
    await runCycle(ctx, { submit: true, monitor: false });
    const leases = async () =>
      (await jobs(db)).flatMap((doc) => doc.passes.map((pass) => pass.claim?.lease_until ?? ''));
    const first = await leases();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await runCycle(ctx, { submit: true, monitor: false });
    const renewed = await leases();
    expect(renewed.every((lease, index) => lease > (first[index] ?? ''))).toBe(true);
    // another site, after the first lease would have ended, finds nothing to return
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await runCycle(context(db, 'other-site', new DryBackend()), CYCLE)).lost).toBe(0);
  });

  it('reads past waiting passes it cannot run, so they never starve it', async () => {
    const db = await databaseWithJobs(3);
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-enqueue-')), 'jobs.json');
    writeFileSync(
      file,
      JSON.stringify({
        rat_v: '7.0.8',
        label: 'paused-label',
        modules: [{ module: 'PartialPo210', n_ev: 2500, ev_per_run: 10, template: { fill_volume: 'x' }, priority: 10 }],
      }),
    );
    await submitRequestFile(db, file);
    const stats = await runCycle(context(db, 'picky', new DryBackend()), {
      submit: true,
      monitor: true,
      pausedLabels: new Set(['paused-label']),
    });
    expect(stats.claimed).toBe(3);
  });

  it('returns the passes of a site whose lease expired, and another site runs them', async () => {
    const db = await databaseWithJobs(2);
    const dead = context(db, 'dead-site', new DryBackend());
    const ready = await db.view<unknown, ReadyPass>('passes', 'ready_priority');
    await claimPasses(
      { ...dead, leaseSeconds: -1 },
      ready.rows.map((row) => row.value),
    );
    const alive = context(db, 'alive-site', new DryBackend());
    const first = await runCycle(alive, CYCLE);
    expect(first.lost).toBe(2);
    await runCycle(alive, CYCLE);
    const passes = (await jobs(db)).map((doc) => doc.passes[0]);
    expect(passes.map((pass) => [pass?.status, pass?.site, pass?.attempts.map((attempt) => attempt.status)])).toEqual([
      ['completed', 'alive-site', ['lost', 'completed']],
      ['completed', 'alive-site', ['lost', 'completed']],
    ]);
  });
});

describe('each pass reaches a backend once', () => {
  const heartbeat = (site: string, beat: Date): HeartbeatDoc => ({
    _id: heartbeatId(site, 'production'),
    type: 'heartbeat',
    site,
    mode: 'production',
    host: 'elsewhere',
    pid: 1,
    instance: site,
    version: 'test',
    takes_turns: false,
    started: beat.toISOString(),
    beat: beat.toISOString(),
  });
  /** A dry backend whose every submit queues the job and then fails, as an sbatch that timed out after queueing it. */
  const answerLost = (journal: string) => new DryBackend({ journal, failCalls: 1, random: () => 0 });

  it('leaves the expired claims of a site whose client is alive to it; that site finds its job by name and submits nothing again', async () => {
    const db = await databaseWithJobs(1);
    const journal = join(mkdtempSync(join(tmpdir(), 'gasp-journal-')), 'journal.jsonl');
    const slow = { ...context(db, 'slow-site', answerLost(journal)), leaseSeconds: -1 };
    await db.put(heartbeat('slow-site', new Date()));
    const first = await runCycle(slow, CYCLE);
    expect(first).toMatchObject({ claimed: 1, submitted: 0 });
    // its lease has ended, but its client is alive: another site must not take the pass back
    const other = context(db, 'other-site', new DryBackend());
    expect((await runCycle(other, CYCLE)).lost).toBe(0);
    expect((await jobs(db))[0]?.passes[0]).toMatchObject({ status: 'submitted', site: 'slow-site' });
    // the slow site's next cycle finds the job the lost answer hid, by its name
    const recovered = new DryBackend({ journal });
    await runCycle({ ...slow, backend: recovered }, CYCLE);
    await runCycle({ ...slow, backend: recovered }, CYCLE);
    expect(recovered.submitted).toHaveLength(0);
    expect((await jobs(db))[0]?.passes[0]).toMatchObject({ status: 'completed', site: 'slow-site' });
    expect(readFileSync(journal, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('takes back the expired claims of a site whose client is gone (heartbeat stale or never written)', async () => {
    const db = await databaseWithJobs(2);
    const journal = join(mkdtempSync(join(tmpdir(), 'gasp-journal-')), 'journal.jsonl');
    const gone = { ...context(db, 'gone-site', answerLost(journal)), leaseSeconds: -1 };
    await db.put(heartbeat('gone-site', new Date(Date.now() - 3_600_000)));
    await runCycle(gone, CYCLE);
    const other = { ...context(db, 'other-site', new DryBackend()), staleSeconds: 60 };
    expect((await runCycle(other, CYCLE)).lost).toBe(2);
    expect((await jobs(db)).map((doc) => doc.passes[0]?.attempts[0]?.reason)).toEqual([
      'lease of site gone-site expired and no client of it is alive',
      'lease of site gone-site expired and no client of it is alive',
    ]);
  });

  it('stops a canceled pass whose submit answer was lost: its job is found by name and canceled too', async () => {
    const db = await databaseWithJobs(1);
    const journal = join(mkdtempSync(join(tmpdir(), 'gasp-journal-')), 'journal.jsonl');
    const site = context(db, 'cancel-site', answerLost(journal));
    await runCycle(site, { submit: true, monitor: false });
    const doc = (await jobs(db))[0];
    if (doc === undefined) throw new Error('no job');
    await db.put({
      ...doc,
      passes: doc.passes.map((pass) => ({ ...pass, cancel_requested: new Date().toISOString() })),
    });
    const backend = new DryBackend({ journal });
    const canceled: string[] = [];
    const watching = Object.assign(backend, { cancel: async (ids: readonly string[]) => void canceled.push(...ids) });
    expect((await runCycle({ ...site, backend: watching }, { submit: false, monitor: true })).canceled).toBe(1);
    expect(canceled).toEqual(['dry-1']);
  });
});

describe('the enqueue client in processing mode', () => {
  const PROCESSING: ProcessingInfoDoc = {
    _id: 'processing_information_7_0_8',
    type: 'processing_information',
    rat_version: '7.0.8',
    modules: {
      Processing: {
        level: 'sub_run',
        path: 'mac/processing/processing.mac',
        outputs: ['ratds'],
        prerequisites: [],
        raw_processor: true,
      },
      Analysis: {
        level: 'run_root',
        path: 'mac/processing/analysis.mac',
        outputs: ['ntuple'],
        prerequisites: ['Processing'],
        raw_processor: false,
      },
    },
    run_types: { Physics: ['Processing', 'Analysis'] },
  };

  it('runs a subjob per subfile, then the module whose prerequisite completed; a failed prerequisite makes it unsatisfied', async () => {
    const db = testCouch().use(uniqueName('processing'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    await db.put(PROCESSING);
    await addRuns(
      db,
      [1, 2].map((run) => ({
        run,
        run_type: 'Physics',
        subfiles: [0, 1, 2].map((index) => ({ name: `r${run}_${index}.zdab`, size: 1, checksum: 'c' })),
      })),
    );
    const runs = (await db.allDocs<RunDoc>({ keys: ['run:1', 'run:2'], include_docs: true })).rows.flatMap((row) =>
      row.doc ? [row.doc] : [],
    );
    await processRuns(db, runs, PROCESSING, { label: 'proc', priority: 0, prereqPass: 'latest' });
    // run 2's Processing fails before any client takes it
    const failing = await db.get<JobDoc>('job:Processing:2');
    await db.put({ ...failing, passes: failing.passes.map((pass) => ({ ...pass, status: 'failed' as const })) });

    const backend = new DryBackend();
    const ctx = { ...context(db, 'proc-site', backend), mode: 'processing' as const };
    for (let cycle = 0; cycle < 4; cycle++) await runCycle(ctx, CYCLE);
    expect(
      backend.submitted
        .filter((job) => job.name.startsWith('gasp-Processing-1-'))
        .map((job) => job.name.replace(/-[0-9a-f]{8}$/, '')),
    ).toEqual(['gasp-Processing-1-p1-s0', 'gasp-Processing-1-p1-s1', 'gasp-Processing-1-p1-s2']);
    const status = async (id: string) => (await db.get<JobDoc>(id)).passes[0]?.status;
    expect(await status('job:Processing:1')).toBe('completed');
    expect(await status('job:Analysis:1')).toBe('completed');
    expect(await status('job:Analysis:2')).toBe('unsatisfied');
    // the dry backend writes no job folders; it keeps what each job would run
    expect(backend.submitted[0]?.spec?.rat_args).toEqual(['-i', 'r1_0.zdab']);
  });
});

describe('gasp enqueue from the command line', () => {
  it('runs one cycle with --once, says what it did in one line, and stops cleanly on SIGTERM', async () => {
    const db = await databaseWithJobs(2);
    const dir = mkdtempSync(join(tmpdir(), 'gasp-enqueue-cli-'));
    writeFileSync(
      join(dir, 'dry.ini'),
      `name = dry-site\nbackend = dry\nmax_jobs = 10\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    writeFileSync(join(dir, 'gasp.cfg'), `${couchSection(db.name)}[client]\nsite = dry.ini\ninterval = 1\n`);
    const once = await runGasp(['enqueue', '-c', join(dir, 'gasp.cfg'), '--once']);
    expect(once.code).toBe(0);
    expect(once.stderr).toMatch(/cycle 1: claimed 2, submitted 2, running 0, completed 0, failed 0, lost 0 \(\d+ ms\)/);
    const child = spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', join(dir, 'gasp.cfg')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (let wait = 0; wait < 100 && !stderr.includes('cycle 1:'); wait++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('enqueue stopped');
  });

  it('refuses bad options with exit 2', async () => {
    const result = await runGasp(['enqueue', '--queue', 'fifo', '--mononly', '--nomon', '--interval', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      '--queue: "fifo" is not a queue order (expected priority | runlevel | newfirst | serial)',
      '--mononly: does not go with --nomon (expected one of them)',
      '--interval: "0" is not a number more than 0',
    ]);
  });
});

describe('gasp enqueue killed with SIGKILL at any moment', () => {
  it('runs every job exactly once across restarts', async () => {
    const db = await databaseWithJobs(6);
    const dir = mkdtempSync(join(tmpdir(), 'gasp-kill9-'));
    writeFileSync(
      join(dir, 'local.ini'),
      `name = kill9\nbackend = local\nmax_jobs = 3\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = ${join(FIXTURE_RELEASE, 'env_rat-7.0.8.sh')}\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    writeFileSync(join(dir, 'gasp.cfg'), `${couchSection(db.name)}[client]\nsite = local.ini\ninterval = 0.2\n`);
    const start = () =>
      spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', join(dir, 'gasp.cfg'), '--log-level', 'error'], {
        stdio: 'ignore',
        env: { ...process.env, GASP_FAKE_RAT_SECONDS: '0.3' },
      });
    for (const delay of [900, 1300, 1100, 1500]) {
      const child = start();
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const last = start();
    for (let wait = 0; wait < 150; wait++) {
      const passes = (await jobs(db)).flatMap((doc) => doc.passes);
      if (passes.every((pass) => pass.status === 'completed')) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    last.kill('SIGTERM');
    await new Promise((resolve) => last.once('exit', resolve));
    const passes = (await jobs(db)).flatMap((doc) => doc.passes);
    expect(passes.map((pass) => pass.status)).toEqual(Array.from({ length: 6 }, () => 'completed'));
    // one local job record per run of the wrapper: six passes, six runs
    const records = readdirSync(join(dir, 'jobs', '.local-backend')).filter((name) => name.endsWith('.json'));
    expect(records).toHaveLength(6);
  }, 90_000);
});

import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { DryBackend } from '../src/backends/dry.js';
import { LocalBackend } from '../src/backends/local.js';
import { runCycle } from '../src/client/cycle.js';
import { seqNumber, type Database } from '../src/db/database.js';
import type { DataDoc, JobDoc, Pass } from '../src/model/documents.js';
import { loadDesignDocs } from '../src/db/design-docs.js';
import { readTally, tallyCaughtUp, ViewTally } from '../src/db/tally.js';
import { silentLogger } from '../src/log.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { summarize } from '../src/shifter/summary.js';
import { describeOutcome, preview } from '../src/shifter/tool.js';
import { gaspOn } from './support/cli.js';
import { folderWith } from './support/files.js';
import { context, databaseWithJobs, jobs, runUntilEnded } from './support/jobs.js';

/** Six jobs of label `enq`: runs 1–2 failed, 3 partFail, 4 completed, 5–6 waiting. */
async function campaign(prefix: string): Promise<Database> {
  const db = await databaseWithJobs(6, prefix);
  const statuses: Record<number, Pass['status']> = { 1: 'failed', 2: 'failed', 3: 'partFail', 4: 'completed' };
  const docs = (await jobs(db)).map((doc): JobDoc => ({
    ...doc,
    passes: doc.passes.map((pass) => {
      const status = statuses[doc.run];
      // ended passes keep the site that ran them, as the client leaves them
      return status === undefined
        ? pass
        : {
            ...pass,
            status,
            site: 'ral',
            attempts: [
              {
                site: 'ral',
                status,
                started: '2026-11-20T10:00:00.000Z',
                finished: '2026-11-20T11:00:00.000Z',
                token: 't',
              },
            ],
          };
    }),
  }));
  await db.bulkDocs(docs);
  return db;
}

const gasp = gaspOn;

const statusOf = async (db: Database) =>
  Object.fromEntries((await jobs(db)).map((doc) => [doc.run, doc.passes.at(-1)?.status]));

describe('gasp retry', () => {
  it('previews by default and changes nothing; with --yes puts the failed passes back to waiting, keeping their history, and audits it', async () => {
    const db = await campaign('retry');
    const seq = (await db.info()).update_seq;
    const looked = await gasp(db, ['retry', '--label', 'enq']);
    expect(looked.code).toBe(0);
    expect(looked.stdout.split('\n').slice(0, 2)).toEqual([
      'retry: 3 passes (failed 2, partFail 1); by module: PartialPo210 3',
      '  PartialPo210\t1\tpass 1\tfailed\tral\tenq',
    ]);
    expect(looked.stdout).toContain('nothing changed: add --yes to retry these 3 passes');
    expect((await db.info()).update_seq).toEqual(seq);

    const applied = await gasp(db, ['retry', '--label', 'enq', '--status', 'failed', '--yes']);
    expect(applied.stdout).toContain('retry: changed 2 of 2 passes');
    expect(await statusOf(db)).toEqual({
      1: 'waiting',
      2: 'waiting',
      3: 'partFail',
      4: 'completed',
      5: 'waiting',
      6: 'waiting',
    });
    expect((await jobs(db)).find((doc) => doc.run === 1)?.passes[0]?.attempts).toHaveLength(1);

    const audit = await gasp(db, ['audit']);
    expect(audit.stdout.trim()).toMatch(/^\S+Z {2}\S+@\S+ {2}retry --label enq --status failed: 2 of 2 passes$/);
  });

  it('selects by module glob, run range and status, the last pass only unless told, and refuses a selection it cannot read', async () => {
    const db = await campaign('select');
    const json = async (args: string[]) =>
      JSON.parse((await gasp(db, [...args, '--json'])).stdout) as {
        preview: { count: number; rows: Array<{ run: number }> };
      };
    expect((await json(['retry', '--module', 'Partial*', '--run', '2-3'])).preview.rows.map((row) => row.run)).toEqual([
      2, 3,
    ]);
    expect((await json(['retry', '--module', 'Water*'])).preview.count).toBe(0);
    expect((await json(['cancel', '--label', 'enq', '--status', 'waiting,completed'])).preview.count).toBe(3);
    const runs = join(folderWith({ 'runs.txt': '1\n4\n' }), 'runs.txt');
    expect(
      (await json(['retry', '-L', runs, '--status', 'failed,completed'])).preview.rows.map((row) => row.run),
    ).toEqual([1, 4]);
    // cancel does not apply to an ended pass: it is left as it is, and the line says why
    expect((await gasp(db, ['cancel', '--label', 'enq', '--status', 'waiting,completed', '--yes'])).stdout).toContain(
      'cancel: changed 2 of 3 passes; 1 left as it is: it is completed (cancel applies to waiting, new, unsatisfied, submitted, running passes); recorded in the audit',
    );
    expect((await jobs(db)).find((doc) => doc.run === 4)?.passes[0]?.status).toBe('completed');
    const bad = await gasp(db, ['retry', '--status', 'broken', '--run', '9-1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([
      '--run: "9-1" is not a run or a range (expected such as 300000 or 300000-300100)',
      '--status: "broken" is not a status (expected waiting, submitted, running, completed, failed, partFail, unsatisfied, canceled, deleted)',
      'no selection: give --label, --module, --run, -L or --exactly (a tool never works on every job by default)',
    ]);
  });
});

describe('how gasp words what it did', () => {
  const result = (count: number, changed: number, applied = true) => ({
    preview: { ...preview([]), count },
    applied,
    changed,
  });
  it('says the others moved on meanwhile only when some did, and agrees in number', () => {
    expect(describeOutcome('retry', result(6, 6))).toBe('retry: changed 6 of 6 passes; recorded in the audit');
    expect(describeOutcome('retry', result(6, 4))).toBe(
      'retry: changed 4 of 6 passes (the others moved on meanwhile); recorded in the audit',
    );
    expect(describeOutcome('cancel', result(1, 1))).toBe('cancel: changed 1 of 1 pass; recorded in the audit');
    expect(describeOutcome('cancel', result(1, 0, false))).toBe('nothing changed: add --yes to cancel this pass');
    expect(describeOutcome('cancel', result(0, 0, false))).toBeUndefined();
  });

  it('counts the passes a tool does not apply to, with the reason, apart from those that moved on', () => {
    const why = 'it is completed (cancel applies to waiting, new, unsatisfied, submitted, running passes)';
    expect(describeOutcome('cancel', { ...result(3, 2), refused: { [why]: 1 } })).toBe(
      `cancel: changed 2 of 3 passes; 1 left as it is: ${why}; recorded in the audit`,
    );
    expect(describeOutcome('cancel', { ...result(4, 1), refused: { [why]: 2 } })).toBe(
      `cancel: changed 1 of 4 passes (the others moved on meanwhile); 2 left as they are: ${why}; recorded in the audit`,
    );
  });

  it('puts a count of one in the singular everywhere: 1 day of live time, 1 job, 1 pass', async () => {
    const db = await databaseWithJobs(1, 'wording');
    const dir = folderWith({
      'jobs.json': JSON.stringify({
        rat_v: '7.0.8',
        label: 'solar',
        modules: [{ module: 'ScintSolar_b8', t_run: 1, t_format: 'day', n_runs: 1 }],
      }),
    });
    const planned = await gasp(db, ['submit', join(dir, 'jobs.json'), '--dry-run']);
    expect(planned.stdout).toMatch(/ScintSolar_b8: time, 1 job, 1 day of live time, /);
    expect(planned.stdout).toMatch(/total: 1 job, 0 events, 1 day of live time;/);
    expect((await gasp(db, ['summary', '--label', 'enq'])).stdout.split('\n')[0]).toBe('label enq: 1 pass (waiting 1)');
    expect((await gasp(db, ['retry', '--label', 'enq', '--status', 'waiting'])).stdout.trim().split('\n').at(-1)).toBe(
      'nothing changed: add --yes to retry this pass',
    );
  });
});

describe('gasp cancel', () => {
  it('cancels waiting passes at once, and a running one through the site that holds it, which stops its job in the backend', async () => {
    const db = await databaseWithJobs(3, 'cancel');
    const backend = new DryBackend();
    // jobs that never end on their own: the site holds them as running
    backend.status = async (ids) => new Map(ids.map((id) => [id, { state: 'running' as const }]));
    const cancelled: string[] = [];
    backend.cancel = async (ids) => void cancelled.push(...ids);
    const ctx = { ...context(db, 'holder', backend), maxClaim: 1 };
    await runCycle(ctx, { submit: true, monitor: true });
    await runCycle(ctx, { submit: false, monitor: true });
    expect(Object.values(await statusOf(db)).sort()).toEqual(['running', 'waiting', 'waiting']);

    const result = await gasp(db, ['cancel', '--label', 'enq', '--yes']);
    expect(result.stdout).toContain('cancel: changed 3 of 3 passes');
    expect(Object.values(await statusOf(db)).sort()).toEqual(['canceled', 'canceled', 'running']);
    const stats = await runCycle(ctx, { submit: true, monitor: true });
    expect(stats).toMatchObject({ canceled: 1, claimed: 0 });
    expect(cancelled).toHaveLength(1);
    const held = (await jobs(db)).flatMap((doc) => doc.passes).find((pass) => pass.attempts.length > 0);
    expect(held).toMatchObject({
      status: 'canceled',
      attempts: [{ status: 'canceled', reason: 'canceled by a shifter' }],
    });
    expect(held?.site).toBeUndefined();
  });
});

describe('gasp summary', () => {
  it('counts per status, module and site, the success rate, events produced vs requested and the run time, from the reduce views', async () => {
    const db = await campaign('summary');
    const result = await gasp(db, ['summary', '--label', 'enq']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      'label enq: 6 passes (completed 1, failed 2, partFail 1, waiting 2)',
      '  success rate: 25.0% of ended passes completed',
      '  events: 10 of 60 requested (16.7%)',
      '  run time: mean 3600 s, spread 0 s over 4 ended passes',
      '  by module:',
      '    PartialPo210: completed 1, failed 2, partFail 1, waiting 2',
      '  by site:',
      '    ral: completed 1, failed 2, partFail 1',
      '    (no site yet): waiting 2',
    ]);
    const byModule = JSON.parse((await gasp(db, ['summary', '--module', 'Partial*', '--json'])).stdout) as {
      passes: number;
      successRate: number;
    };
    expect(byModule).toMatchObject({ passes: 6, successRate: 0.25 });
    expect((await gasp(db, ['summary'])).stderr.trim()).toBe('summary: give --label or --module (one of them)');
  });
});

describe('summary tally', () => {
  it('gives the same summary as the reduce view, follows retries as they are made, and is used only when it has seen every change', async (ctx) => {
    const server = inject('couchServer');
    // gasp serve keeps it next to the embedded server; CouchDB's update_seq is opaque and its reductions need none
    ctx.skip(
      !server.pouchdb,
      `the summary tally is kept only on PouchDB Server; the tests run on ${server.name} (GASP_TEST_COUCHDB_URL)`,
    );
    const db = await campaign('tally');
    const fromView = await summarize(db, { label: 'enq' });
    const map = loadDesignDocs(BUNDLED_VIEWS).find((doc) => doc._id === '_design/summary')?.views.passes?.map ?? '';
    const tally = new ViewTally(db, 'summary', 'passes', map, silentLogger);
    try {
      const written = tally.nextWrite();
      tally.start();
      await written;
      expect(await readTally(db, 'summary', 'passes')).toBeDefined();
      expect(await summarize(db, { label: 'enq' })).toEqual(fromView);
      expect(await summarize(db, { module: 'Partial*', rat: '7.0.8' })).toMatchObject({
        passes: 6,
        scope: 'module Partial*, RAT 7.0.8',
      });
      expect((await summarize(db, { label: 'enq', rat: '9.9.9' })).passes).toBe(0);

      expect((await gasp(db, ['retry', '--label', 'enq', '--yes'])).code).toBe(0);
      const tallied = await summarize(db, { label: 'enq' });
      expect(tallied.byStatus).toEqual({ completed: 1, waiting: 5 });
    } finally {
      await tally.stop();
    }
    // a tally that stopped following is behind the next change, and the view answers instead
    await db.bulkDocs([
      { ...(await jobs(db))[0], _id: 'job:Other:1', _rev: undefined, module: 'Other', run: 1 } as JobDoc,
    ]);
    expect(await readTally(db, 'summary', 'passes', 100)).toBeUndefined();
    expect((await summarize(db, { label: 'enq' })).passes).toBe(7);
  });

  it("takes no CouchDB position as caught up: CouchDB's are opaque strings, only PouchDB Server's numbers are ordered", () => {
    expect(tallyCaughtUp(12, 12)).toBe(true);
    expect(tallyCaughtUp(12, 11)).toBe(true);
    expect(tallyCaughtUp(11, 12)).toBe(false);
    expect(
      tallyCaughtUp(
        '12-g1AAAAFTeJzLYWBg4MhgTmHgzcvPy09JdcjLz8gvLskBCScyJNX___8_K4M5kTEXKMBubJBmlGRqgk0DHjPyWIAkQwOQ-g81JZEBbEqSgXGqoUUiNr1ZAIbpJAU',
        '12-g1AAAAFTeJzLYWBg4MhgTmHgzcvPy09JdcjLz8gvLskBCScyJNX___8_K4M5kTEXKMBubJBmlGRqgk0DHjPyWIAkQwOQ-g81JZEBbEqSgXGqoUUiNr1ZAIbpJAU',
      ),
    ).toBe(false);
    expect(tallyCaughtUp(12, '11-g1AAAA')).toBe(false);
    expect(tallyCaughtUp('12-g1AAAA', 11)).toBe(false);
  });
});

describe('gasp unlock', () => {
  it("refuses while the site is alive, naming it; releases a dead site's claims for others with --yes, and audits it", async () => {
    const db = await databaseWithJobs(3, 'unlock');
    await runCycle(context(db, 'dead-site', new DryBackend()), { submit: true, monitor: false });
    const beat = {
      _id: 'coordination:heartbeat:dead-site:production',
      type: 'heartbeat',
      site: 'dead-site',
      mode: 'production',
      host: 'far-away',
      pid: 77,
      instance: 'x',
      version: 'test',
      takes_turns: false,
      started: new Date().toISOString(),
      beat: new Date().toISOString(),
    };
    const written = await db.put(beat);
    const refused = await gasp(db, ['unlock', 'dead-site', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(
      /^site dead-site is alive \(host far-away pid 77 since .*, last heartbeat \d+ s ago\): its jobs may be running; stop its client first, or add --force$/,
    );
    // the site died long ago
    await db.put({ ...beat, _rev: written.rev, beat: '2020-01-01T00:00:00.000Z' });
    expect((await gasp(db, ['why', '--label', 'enq'])).stdout).toMatch(
      /^3 passes \(.*\) held by dead-site, whose client is stale \(heartbeat \d+ s ago\); its claim's lease ends \S+, then any site takes it again; gasp unlock dead-site releases it now$/m,
    );
    expect((await gasp(db, ['unlock', 'dead-site'])).stdout.trim()).toBe(
      'unlock: site dead-site holds 3 passes; nothing changed: add --yes to release them',
    );
    expect((await gasp(db, ['unlock', 'dead-site', '--yes'])).stdout.trim()).toBe(
      'unlock: released 3 of 3 passes of site dead-site; recorded in the audit',
    );
    const passes = (await jobs(db)).flatMap((doc) => doc.passes);
    expect(passes.every((pass) => pass.status === 'waiting' && pass.site === undefined)).toBe(true);
    expect(passes[0]?.attempts[0]).toMatchObject({
      status: 'lost',
      reason: expect.stringMatching(/^released by \S+@\S+ \(gasp unlock dead-site\)$/),
    });
    expect((await gasp(db, ['audit'])).stdout).toMatch(/unlock --site dead-site: 3 of 3 passes/);
    // another site takes them now
    expect((await runCycle(context(db, 'live-site', new DryBackend()), { submit: true, monitor: false })).claimed).toBe(
      3,
    );
  });
});

describe('gasp why', () => {
  it('gives the reason at every active site for each waiting pass, by the rules the client decides with', async () => {
    const db = await databaseWithJobs(3, 'why');
    expect((await gasp(db, ['why', '--label', 'enq'])).stdout.split('\n')[0]).toBe(
      'no gasp enqueue for production is running at any site',
    );
    // site "full" holds two of the three passes and has room for two
    await runCycle({ ...context(db, 'full', new DryBackend()), maxClaim: 2 }, { submit: true, monitor: false });
    const now = new Date().toISOString();
    const beat = (site: string, capabilities: Record<string, unknown>) => ({
      _id: `coordination:heartbeat:${site}:production`,
      type: 'heartbeat',
      site,
      mode: 'production',
      host: 'h',
      pid: 1,
      instance: site,
      version: 'test',
      takes_turns: false,
      started: now,
      beat: now,
      capabilities: {
        rat_versions: ['7.0.8'],
        modes: ['production'],
        max_jobs: 100,
        paused_labels: [],
        claims: true,
        ...capabilities,
      },
    });
    const turns = { ...beat('turn-taker', {}), takes_turns: true };
    await db.bulkDocs([
      beat('full', { max_jobs: 2 }),
      beat('old-rat', { rat_versions: ['7.0.4'] }),
      beat('pausing', { paused_labels: ['enq'] }),
      beat('watcher', { claims: false }),
      beat('able', {}),
      turns,
    ]);
    await db.put({ _id: 'coordination:leader', type: 'leader', site: 'able', since: now, term: 1, by: 'able' });
    const result = await gasp(db, ['why', '--label', 'enq']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^2 passes \(PartialPo210 \d+ pass 1, PartialPo210 \d+ pass 1\) held by full, whose client is alive \(heartbeat \d+ s ago\): it is submitted there$/,
      ),
      expect.stringMatching(/^1 waiting pass \(PartialPo210 \d+ pass 1\):$/),
      '  able: it can take it: at its next cycle, once the passes ahead of it in the queue are claimed',
      '  full: site full (2 of 2 jobs)',
      '  old-rat: no RAT 7.0.8 there (it has 7.0.4)',
      '  pausing: label enq is paused there (--pause)',
      '  turn-taker: not its turn: submission is serialized and able leads',
      '  watcher: it only monitors (--mononly)',
    ]);
    const waiting = (await jobs(db)).find((doc) => doc.passes[0]?.status === 'waiting');
    const one = await gasp(db, ['why', 'PartialPo210', String(waiting?.run)]);
    expect(one.stdout).toContain('  old-rat: no RAT 7.0.8 there (it has 7.0.4)');
    expect((await gasp(db, ['why'])).stderr.trim()).toBe('why: give --label L, or MODULE RUN [PASS] (one of them)');
  });
});

describe('gasp why, index and ended passes', () => {
  it('tells a ready view whose index only has not caught up with a fresh submit from one that leaves passes out', async () => {
    const db = await databaseWithJobs(2, 'why-index');
    const fresh = await gasp(db, ['why', '--label', 'enq']);
    expect(fresh.stdout).toMatch(
      /^2 of 2 waiting passes asked about are not in passes\/ready_priority yet only because its index is behind \(it has seen \d+ of \d+ changes, such as a fresh submit\): sites see them once it is built, which their next query does$/m,
    );
    // a client's query builds it: nothing to say
    await db.view('passes', 'ready_priority', { limit: 0 });
    expect((await gasp(db, ['why', '--label', 'enq'])).stdout).not.toContain('ready_priority');
    // a waiting pass that still names a site (left so by hand) is not one the view lists, however current
    const [doc] = await jobs(db);
    await db.put({ ...doc, passes: doc?.passes.map((pass) => ({ ...pass, site: 'gone' })) } as JobDoc);
    await db.view('passes', 'ready_priority', { limit: 0 });
    expect((await gasp(db, ['why', '--label', 'enq'])).stdout).toMatch(
      /^1 of 2 waiting passes asked about is not in passes\/ready_priority although its index has seen every change/m,
    );
  });

  it("compares PouchDB's numeric sequences and CouchDB's opaque ones by the count they start with", () => {
    expect([
      seqNumber(12),
      seqNumber('1234-g1AAAAFTeJzLYWBg'),
      seqNumber('7'),
      seqNumber('now'),
      seqNumber(null),
    ]).toEqual([12, 1234, 7, undefined, undefined]);
  });

  it('says how a pass of MODULE RUN ended: failed, where, its exit code and the reason recorded', async () => {
    const db = await databaseWithJobs(1, 'why-failed');
    const ctx = context(db, 'breaking', new DryBackend({ outcome: 'failed', exitCode: 20 }));
    await runCycle(ctx, { submit: true, monitor: false });
    await runCycle(ctx, { submit: false, monitor: true });
    const [doc] = await jobs(db);
    const result = await gasp(db, ['why', 'PartialPo210', String(doc?.run)]);
    expect(result.code).toBe(0);
    const finished = doc?.passes[0]?.attempts.at(-1)?.finished;
    expect(result.stdout.trim()).toBe(
      `1 pass (PartialPo210 ${doc?.run} pass 1) failed at breaking (${finished}): exit code 20; gasp retry --module PartialPo210 --run ${doc?.run} --pass 1 --yes puts it back to waiting`,
    );
    // with a reason of its own, that too
    const reason = 'rat wrote no PartialPo210_r1_p1_s0.root';
    await db.put({
      ...doc,
      passes: doc?.passes.map((pass) => ({
        ...pass,
        attempts: pass.attempts.map((attempt) => ({ ...attempt, reason })),
      })),
    } as JobDoc);
    expect((await gasp(db, ['why', 'PartialPo210', String(doc?.run)])).stdout).toContain(
      `failed at breaking (${finished}): exit code 20: ${reason}; gasp retry`,
    );
  });
});

describe('gasp delete', () => {
  it('marks passes deleted and removes their data documents; storage files stay unless --purge-storage', async () => {
    const db = await databaseWithJobs(2, 'delete');
    const ctx = context(
      db,
      'local',
      new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 }),
    );
    await runUntilEnded(ctx);
    const data = async () =>
      (await db.allDocs<DataDoc>({ startkey: 'data:', endkey: 'data:\uffff', include_docs: true })).rows.flatMap(
        (row) => (row.doc ? [row.doc] : []),
      );
    const files = (await data()).flatMap((doc) => doc.files.map((file) => fileURLToPath(file.url)));
    expect(files.map((file) => existsSync(file))).toEqual([true, true]);

    const kept = await gasp(db, ['delete', '--label', 'enq', '--run', '1', '--yes']);
    // none moved on between the preview and the write, so none is said to have
    expect(kept.stdout.trim().split('\n').slice(-2)).toEqual([
      'delete: changed 1 of 1 pass; recorded in the audit',
      'delete: removed 1 data document; storage files kept (--purge-storage removes them)',
    ]);
    expect((await data()).map((doc) => doc.run)).toEqual([2]);
    expect(files.map((file) => existsSync(file))).toEqual([true, true]);
    const purged = await gasp(db, ['delete', '--label', 'enq', '--run', '2', '--yes', '--purge-storage']);
    expect(purged.stdout.trim().split('\n').slice(-2)).toEqual([
      'delete: removed 1 file in storage: 1 on this machine (file://)',
      'delete: removed 1 data document',
    ]);
    expect(await data()).toEqual([]);
    expect(files.map((file) => existsSync(file))).toEqual([true, false]);
    expect((await jobs(db)).map((doc) => doc.passes[0]?.status)).toEqual(['deleted', 'deleted']);
  });
});

describe('auto-pause', () => {
  it('pauses a label when most of its last ended passes failed, names the exit codes, and claims none of it until gasp resume', async () => {
    const db = await databaseWithJobs(8, 'pause');
    expect((await gasp(db, ['policy', '--label', 'enq', '--pause-after', '2/4'])).stdout.trim().split('\n')[0]).toBe(
      'label enq: pauses when more than 2 of its last 4 ended passes failed',
    );
    const failing = context(db, 'breaking', new DryBackend({ outcome: 'failed', exitCode: 20 }));
    const ctx = { ...failing, maxClaim: 4 };
    await runCycle(ctx, { submit: true, monitor: false });
    const stats = await runCycle(ctx, { submit: true, monitor: true });
    expect(stats.failed).toBe(4);
    // the label paused in the same cycle: nothing more of it was claimed
    expect(stats.claimed).toBe(0);
    const policy = await gasp(db, ['policy', '--label', 'enq']);
    expect(policy.stdout).toMatch(
      /PAUSED since \S+ by site breaking: 4 of its last 4 ended passes failed \(exit codes: 20 ×4\); gasp resume --label enq/,
    );
    expect((await gasp(db, ['why', '--label', 'enq'])).stdout).toMatch(
      /^label enq is paused since \S+ \(site breaking\): 4 of its last 4 ended passes failed/m,
    );
    expect((await runCycle(context(db, 'healthy', new DryBackend()), { submit: true, monitor: true })).claimed).toBe(0);
    expect((await gasp(db, ['resume', '--label', 'enq'])).stdout).toMatch(/^label enq resumed \(it was paused since/);
    expect(
      (await gasp(db, ['audit'])).stdout
        .trim()
        .split('\n')
        .map((line) => line.replace(/^\S+Z {2}\S+@\S+ {2}/, '')),
    ).toEqual([
      expect.stringMatching(
        /^resume --label enq: label resumed; it was paused since \S+: 4 of its last 4 ended passes failed/,
      ),
      'policy --label enq --pause-after 2/4: policy set',
    ]);
    expect((await runCycle(context(db, 'healthy', new DryBackend()), { submit: true, monitor: true })).claimed).toBe(4);
  });
});

describe('failure policy', () => {
  it('resubmits a failed pass whose log names a transient error, up to max_attempts, asking for more memory each time', async () => {
    const db = await databaseWithJobs(1, 'transient');
    const set = await gasp(db, [
      'policy',
      '--label',
      'enq',
      '--retry-on',
      'failing with 3',
      '--max-attempts',
      '2',
      '--retry-memory',
      '1G',
    ]);
    expect(set.stdout).toContain('a failed pass whose log contains "failing with 3" is resubmitted, up to 2 attempts');
    expect(set.stdout).toContain('each retry after a failure asks for 1024 MB more memory');
    const backend = new LocalBackend({ stateDir: mkdtempSync(join(tmpdir(), 'gasp-state-')), maxJobs: 4 });
    const submitted: Array<number | undefined> = [];
    const submit = backend.submit.bind(backend);
    backend.submit = async (prepared) => {
      submitted.push(...prepared.map((job) => job.extraMemoryMb));
      return submit(prepared);
    };
    process.env.GASP_FAKE_RAT_EXIT = '3';
    try {
      const [doc] = await runUntilEnded(context(db, 'flaky', backend));
      const pass = doc?.passes[0];
      expect(pass?.status).toBe('failed');
      expect(pass?.attempts.map((attempt) => attempt.status)).toEqual(['failed', 'failed']);
      expect(pass?.attempts[0]?.reason).toMatch(
        /its log says "failing with 3", a transient error by the policy of label enq: resubmitted \(attempt 2 of at most 2\)$/,
      );
      expect(submitted).toEqual([undefined, 1024]);
    } finally {
      delete process.env.GASP_FAKE_RAT_EXIT;
    }
  });

  it('leaves a failure whose log names no transient error failed, and takes the policy from the jobs.json request', async () => {
    const db = await databaseWithJobs(1, 'policy-request');
    const dir = folderWith({
      'jobs.json': JSON.stringify({
        rat_v: '7.0.8',
        label: 'req',
        policy: { retry_on: ['Stale file handle'], max_attempts: 4, pause_after: '3/5' },
        modules: [{ module: 'PartialPo210', n_ev: 10, ev_per_run: 10, template: { fill_volume: 'lower' } }],
      }),
    });
    expect((await gasp(db, ['submit', join(dir, 'jobs.json')])).code).toBe(0);
    const shown = (await gasp(db, ['policy', '--label', 'req'])).stdout;
    expect(shown).toContain('label req: pauses when more than 3 of its last 5 ended passes failed');
    expect(shown).toContain('a failed pass whose log contains "Stale file handle" is resubmitted, up to 4 attempts');
    const failing = context(db, 'failing', new DryBackend({ outcome: 'failed', exitCode: 20 }));
    const passes = (await runUntilEnded(failing)).flatMap((doc) => doc.passes);
    expect(passes.map((pass) => [pass.label, pass.attempts.map((attempt) => attempt.status)])).toEqual([
      ['enq', ['failed']],
      ['req', ['failed']],
    ]);

    const broken = folderWith({
      'jobs.json': JSON.stringify({
        rat_v: '7.0.8',
        label: 'req',
        policy: { retry_on: 'oops', max_attempts: 0, colour: 'red' },
        modules: [{ module: 'PartialPo210', n_ev: 10, ev_per_run: 10 }],
      }),
    });
    const refused = await gasp(db, ['submit', join(broken, 'jobs.json')]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'policy.colour: unknown key (expected pause_after, max_attempts, retry_memory, retry_on)',
    );
    expect(refused.stderr).toContain('policy.max_attempts: 0 is not a whole number from 1 to 20');
    expect(refused.stderr).toContain('policy.retry_on: "oops" is not a list of texts');
    expect((await gasp(db, ['policy', '--label', 'req', '--retry-memory', 'lots'])).stderr.trim()).toBe(
      '--retry-memory: "lots" is not a memory size (expected such as 2G or 512M)',
    );
  });
});

describe('site health', () => {
  it('a site whose set-up keeps failing quarantines itself, keeps monitoring, claims nothing, is named by sites status, summary and why, until gasp resume --site', async () => {
    const db = await databaseWithJobs(12, 'quarantine');
    const base = context(db, 'broken', new DryBackend({ outcome: 'failed', exitCode: 10 }));
    const ctx = { ...base, maxClaim: 4, site: { ...base.site, quarantineAfter: { failed: 2, of: 4 } } };
    await runCycle(ctx, { submit: true, monitor: false });
    const stats = await runCycle(ctx, { submit: true, monitor: true });
    expect(stats).toMatchObject({
      failed: 4,
      claimed: 0,
      quarantined: '4 of its last 4 ended attempts failed (setup 4)',
    });
    expect((await runCycle(ctx, { submit: true, monitor: true })).claimed).toBe(0);

    const now = new Date().toISOString();
    await db.put({
      _id: 'coordination:heartbeat:broken:production',
      type: 'heartbeat',
      site: 'broken',
      mode: 'production',
      host: 'h',
      pid: 1,
      instance: 'x',
      version: 'test',
      takes_turns: false,
      started: now,
      beat: now,
      capabilities: { rat_versions: ['7.0.8'], modes: ['production'], max_jobs: 50, paused_labels: [], claims: true },
    });
    expect((await gasp(db, ['sites', 'status'])).stdout).toMatch(
      /^broken: 4 of its last 4 ended attempts failed \(setup 4\); QUARANTINED since \S+: 4 of its last 4 ended attempts failed \(setup 4\); gasp resume --site broken$/m,
    );
    expect((await gasp(db, ['summary', '--label', 'enq'])).stdout).toMatch(
      /^ {4}broken: failed 4; QUARANTINED since \S+: 4 of its last 4/m,
    );
    expect((await gasp(db, ['why', '--label', 'enq'])).stdout).toMatch(
      /broken: quarantined since \S+: 4 of its last 4 ended attempts failed \(setup 4\); gasp resume --site broken/,
    );

    // failures of RAT itself say nothing about the site
    const ratFails = context(db, 'rat-fails', new DryBackend({ outcome: 'failed', exitCode: 20 }));
    const other = { ...ratFails, maxClaim: 4, site: { ...ratFails.site, quarantineAfter: { failed: 2, of: 4 } } };
    await runCycle(other, { submit: true, monitor: false });
    expect((await runCycle(other, { submit: false, monitor: true })).quarantined).toBeUndefined();

    expect((await gasp(db, ['resume', '--site', 'broken'])).stdout).toMatch(
      /^site broken resumed: it claims again at its next cycle \(it was quarantined since/,
    );
    // the audit says what was done: a site resumed, not a count of passes
    expect((await gasp(db, ['audit', '-n', '1'])).stdout.trim()).toMatch(
      /^\S+Z {2}\S+@\S+ {2}resume --site broken: site resumed; it was quarantined since \S+: 4 of its last 4 ended attempts failed \(setup 4\)$/,
    );
    // only what ends after the resume counts: one more set-up failure is not five
    const resumed = { ...ctx, maxClaim: 1 };
    expect((await runCycle(resumed, { submit: true, monitor: true })).claimed).toBe(1);
    expect(await runCycle(resumed, { submit: true, monitor: true })).toMatchObject({ failed: 1, claimed: 1 });
    expect((await runCycle(resumed, { submit: true, monitor: true })).quarantined).toBeUndefined();
  });

  it('counts failures its policy resubmitted: a site does not burn every attempt of a pass before it stops', async () => {
    const db = await databaseWithJobs(4, 'requarantine');
    await gasp(db, ['policy', '--label', 'enq', '--retry-on', 'exit code 10', '--max-attempts', '9']);
    const base = context(db, 'flaky-site', new DryBackend({ outcome: 'failed', exitCode: 10 }));
    const ctx = { ...base, maxClaim: 4, site: { ...base.site, quarantineAfter: { failed: 2, of: 4 } } };
    await runCycle(ctx, { submit: true, monitor: false });
    const stats = await runCycle(ctx, { submit: true, monitor: true });
    expect(stats).toMatchObject({
      resubmitted: 4,
      failed: 0,
      claimed: 0,
      quarantined: '4 of its last 4 ended attempts failed (setup 4)',
    });
    expect(
      (await jobs(db)).map((doc) => [
        doc.passes[0]?.status,
        doc.passes[0]?.attempts.map((attempt) => [attempt.status, attempt.exit_code]),
      ]),
    ).toEqual(Array.from({ length: 4 }, () => ['waiting', [['failed', 10]]]));
  });
});

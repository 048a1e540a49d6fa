import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHolding } from '../src/cli/lock-run.js';
import { NamedLock } from '../src/coordination/lock.js';
import { DryBackend } from '../src/backends/dry.js';
import type { CycleStats } from '../src/client/context.js';
import { runCycle, type Turn } from '../src/client/cycle.js';
import { enqueue } from '../src/client/enqueue.js';
import { SiteHeartbeat } from '../src/coordination/heartbeat.js';
import { Leadership } from '../src/coordination/leader.js';
import { ServerClock } from '../src/db/clock.js';
import type { Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { LEADER_ID, lockId, type LeaderDoc, type LockDoc } from '../src/model/coordination.js';
import { GASP_BIN } from './support/cli.js';
import { couchSection, testCouch, uniqueName } from './support/couch.js';
import { context, databaseWithJobs, jobs } from './support/jobs.js';
import { captureLog } from './support/log.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const beating = (db: Database, clock: ServerClock, site: string, staleSeconds = 120) =>
  new SiteHeartbeat(db, clock, {
    site,
    mode: 'production',
    version: 'test',
    heartbeatSeconds: 60,
    staleSeconds,
    takesTurns: true,
  });

const leadership = (db: Database, clock: ServerClock, site: string, staleSeconds = 120) =>
  new Leadership(db, clock, { site, mode: 'production', staleSeconds, conflictDelaySeconds: 0.05 }, silentLogger);

/**
 * A long-running serialized site: a cycle (claiming one pass), a hand-over, a pause of 0.3 s,
 * again; it leads when this returns. `handsOver` holds its hand-overs back until it says yes.
 */
async function longRunningSite(db: Database, clock: ServerClock, handsOver: () => boolean = () => true) {
  const stopping = new AbortController();
  const heartbeat = beating(db, clock, 'long');
  await heartbeat.start();
  const backend = new DryBackend();
  const leader = leadership(db, clock, 'long');
  const turn: Turn = {
    myTurn: () => leader.myTurn(),
    stillMine: () => leader.stillMine(),
    handOver: async () => (handsOver() ? leader.handOver() : undefined),
  };
  const running = enqueue(
    { ...context(db, 'long', backend, 1000), maxClaim: 1 },
    { submit: true, monitor: true, intervalMs: 300, signal: stopping.signal, turn },
  );
  const deadline = Date.now() + 5_000;
  while ((await db.find<LeaderDoc>(LEADER_ID))?.site !== 'long' && Date.now() < deadline) await wait(50);
  return {
    backend,
    stop: async () => {
      stopping.abort();
      await running;
      await heartbeat.stop();
    },
  };
}

describe('a --once site under serialized submission', () => {
  it('gets its turn and submits at every cron run beside a long-running serialized site', async () => {
    const db = await databaseWithJobs(40, 'fence-once');
    const clock = new ServerClock(db.couch);
    const long = await longRunningSite(db, clock);
    const cronBackend = new DryBackend();
    const submittedPerRun: number[] = [];
    try {
      for (let run = 0; run < 3; run++) {
        // as cron starts `gasp enqueue --once`: heartbeat, one cycle (waiting for its turn), stopped
        const heartbeat = beating(db, clock, 'cron');
        await heartbeat.start();
        const before = cronBackend.submitted.length;
        const started = Date.now();
        await enqueue(
          { ...context(db, 'cron', cronBackend, 1000), maxClaim: 5 },
          {
            submit: true,
            monitor: true,
            intervalMs: 100,
            cycles: 1,
            // far more than it needs (the long site cycles every 100 ms): a loaded machine is slow
            waitTurnMs: 10_000,
            signal: new AbortController().signal,
            turn: leadership(db, clock, 'cron'),
          },
        );
        await heartbeat.stop();
        expect(Date.now() - started).toBeLessThan(12_000);
        submittedPerRun.push(cronBackend.submitted.length - before);
        await wait(100);
      }
    } finally {
      await long.stop();
    }
    expect(submittedPerRun).toEqual([5, 5, 5]);
    expect(long.backend.submitted.length).toBeGreaterThan(0);
    // the cron site handed the lead back as it left
    expect((await db.get<LeaderDoc>(LEADER_ID)).site).toBe('long');
  }, 60_000);

  it('gives up after its bounded wait with one line, only monitoring, when the lead never comes round', async () => {
    const db = await databaseWithJobs(10, 'fence-once-gives-up');
    const clock = new ServerClock(db.couch);
    const long = await longRunningSite(db, clock, () => false);
    const captured = captureLog();
    const heartbeat = beating(db, clock, 'cron');
    await heartbeat.start();
    const cycles: CycleStats[] = [];
    const started = Date.now();
    try {
      await enqueue(
        { ...context(db, 'cron', new DryBackend(), 1000), log: captured.log },
        {
          submit: true,
          monitor: true,
          intervalMs: 100,
          cycles: 1,
          waitTurnMs: 600,
          signal: new AbortController().signal,
          turn: leadership(db, clock, 'cron'),
          onCycle: (stats) => cycles.push(stats),
        },
      );
    } finally {
      await heartbeat.stop();
      await long.stop();
    }
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(captured.lines.map((line) => line.msg).filter((msg) => !msg.startsWith('cycle 1:'))).toEqual([
      "waiting up to 1 s for this site's turn to submit (serialized submission)",
      "not this site's turn within 1 s: this run only monitors; the next one waits again",
    ]);
    expect(cycles).toMatchObject([{ waitingTurn: true, claimed: 0, submitted: 0 }]);
    expect(await tokensOf(db, 'cron')).toEqual([]);
  }, 10_000);

  it('gasp enqueue --once says in one line that it waits for its turn, then submits in it and exits 0', async () => {
    const db = await databaseWithJobs(40, 'fence-once-cli');
    let log = '';
    const waiting = /waiting up to 5 s for this site's turn to submit/;
    // the lead comes round only once the cron run has said it waits (else it might find it at once)
    const long = await longRunningSite(db, new ServerClock(db.couch), () => waiting.test(log));
    const dir = mkdtempSync(join(tmpdir(), 'gasp-fence-cron-'));
    writeFileSync(
      join(dir, 'cron.ini'),
      `name = cron\nbackend = dry\nmax_jobs = 1000\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs\n`,
    );
    writeFileSync(
      join(dir, 'cron.cfg'),
      `${couchSection(db.name)}[client]\nsite = cron.ini\ninterval = 1\nmax_claim = 5\n[coordination]\nserialize = yes\nheartbeat = 10\nstale = 30\n`,
    );
    try {
      const cron = spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', join(dir, 'cron.cfg'), '--once'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      cron.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
      expect(await new Promise((resolve) => cron.once('close', resolve))).toBe(0);
      expect(log.split('\n').filter((line) => waiting.test(line))).toHaveLength(1);
      expect(log).toMatch(/cycle 1: claimed 5, submitted 5,/);
    } finally {
      await long.stop();
    }
    expect(await tokensOf(db, 'cron')).toHaveLength(5);
  }, 30_000);
});

/** Passes claimed by `site`, by their claim tokens. */
const tokensOf = async (db: Database, site: string) =>
  (await jobs(db))
    .flatMap((doc) => doc.passes)
    .filter((pass) => pass.site === site)
    .map((pass) => pass.claim?.token)
    .sort();

/** Submitted job names end with the first 8 characters of their pass's claim token. */
const tokenPrefixes = (backend: DryBackend) => backend.submitted.map((job) => job.name.slice(-8)).sort();

/**
 * Two serialized sites judging heartbeats stale after 1 s. `pauseAlpha` stands for alpha's VM
 * stopped mid-cycle: its heartbeat goes stale, beta takes the lead and runs a cycle (claims,
 * submits); then alpha resumes where it was.
 */
async function twoSites(name: string) {
  const db = await databaseWithJobs(20, name);
  const clock = new ServerClock(db.couch);
  const alphaBeat = beating(db, clock, 'alpha', 1);
  await alphaBeat.start();
  const alpha = leadership(db, clock, 'alpha', 1);
  const beta = leadership(db, clock, 'beta', 1);
  const betaBeat = beating(db, clock, 'beta', 1);
  const betaBackend = new DryBackend();
  const betaCtx = { ...context(db, 'beta', betaBackend, 1000), maxClaim: 5 };
  const pauseAlpha = async () => {
    const deadline = Date.now() + 4_000;
    while ((await beta.turnTakers()).includes('alpha') && Date.now() < deadline) await wait(100);
    await betaBeat.start();
    expect(await beta.myTurn()).toBe(true);
    expect((await runCycle(betaCtx, { submit: true, monitor: true, turn: beta })).submitted).toBe(5);
  };
  return { db, alpha, alphaBeat, beta, betaBeat, betaBackend, pauseAlpha };
}

describe('a leader paused past the stale window (fencing)', () => {
  it('claims and submits nothing when it resumes after another site took the lead; that site keeps its claims', async () => {
    const { db, alpha, alphaBeat, betaBeat, betaBackend, pauseAlpha } = await twoSites('fence-claim');
    const alphaBackend = new DryBackend();
    // paused right after its turn began, before it claims
    const turn: Turn = {
      myTurn: async () => (await alpha.myTurn()) && (await pauseAlpha(), true),
      stillMine: () => alpha.stillMine(),
      handOver: () => alpha.handOver(),
    };
    try {
      const stats = await runCycle(
        { ...context(db, 'alpha', alphaBackend, 1000), maxClaim: 5 },
        { submit: true, monitor: true, turn },
      );
      expect(stats).toMatchObject({ claimed: 0, submitted: 0 });
      expect(alphaBackend.submitted).toEqual([]);
      expect(await tokensOf(db, 'alpha')).toEqual([]);
      const betaTokens = await tokensOf(db, 'beta');
      expect(betaTokens).toHaveLength(5);
      expect(tokenPrefixes(betaBackend)).toEqual(betaTokens.map((token) => token?.slice(0, 8)).sort());
      expect((await db.get<LeaderDoc>(LEADER_ID)).site).toBe('beta');
    } finally {
      await Promise.all([alphaBeat.stop(), betaBeat.stop()]);
    }
  }, 15_000);

  it('submits nothing when the lead is lost between its claim and its submission; its claims are submitted at its next turn', async () => {
    const { db, alpha, alphaBeat, beta, betaBeat, betaBackend, pauseAlpha } = await twoSites('fence-submit');
    const alphaBackend = new DryBackend();
    const alphaCtx = { ...context(db, 'alpha', alphaBackend, 1000), maxClaim: 5 };
    let fences = 0;
    // paused after the claim's write, before the submission
    const turn: Turn = {
      myTurn: () => alpha.myTurn(),
      stillMine: async () => {
        if (++fences === 2) await pauseAlpha();
        return alpha.stillMine();
      },
      handOver: () => alpha.handOver(),
    };
    try {
      const stats = await runCycle(alphaCtx, { submit: true, monitor: true, turn });
      expect(stats).toMatchObject({ claimed: 5, submitted: 0, waitingTurn: true });
      expect(alphaBackend.submitted).toEqual([]);
      const alphaTokens = await tokensOf(db, 'alpha');
      expect(alphaTokens).toHaveLength(5);
      expect(await tokensOf(db, 'beta')).toHaveLength(5);
      // alpha beats again; beta's turn ends by handing the lead to it; its claims go out then (and no new ones)
      await alphaBeat.beat();
      await beta.handOver();
      expect(await runCycle({ ...alphaCtx, maxClaim: 0 }, { submit: true, monitor: true, turn: alpha })).toMatchObject({
        claimed: 0,
        submitted: 5,
      });
      expect(tokenPrefixes(alphaBackend)).toEqual(alphaTokens.map((token) => token?.slice(0, 8)).sort());
      expect(betaBackend.submitted).toHaveLength(5);
    } finally {
      await Promise.all([alphaBeat.stop(), betaBeat.stop()]);
    }
  }, 15_000);
});

describe('a gasp lock-run holder paused past its lock', () => {
  it('does not start its command once another site took the lock over, and leaves that site its lock', async () => {
    const db = testCouch().use(uniqueName('fence-lock'));
    await db.create();
    const clock = new ServerClock(db.couch);
    // two sites, each through its own database handle (its own holder)
    const lock = (site: string) =>
      new NamedLock(testCouch().use(db.name), clock, 'nightly', { site, staleSeconds: 1, command: 'touch ran' });
    const paused = lock('alpha');
    expect((await paused.tryTake()).taken).toBe(true);
    // alpha stops renewing (its VM is stopped); beta takes the lock once it ended
    const beta = lock('beta');
    const deadline = Date.now() + 4_000;
    let attempt = await beta.tryTake();
    while (!attempt.taken && Date.now() < deadline) {
      await wait(200);
      attempt = await beta.tryTake();
    }
    expect(attempt).toMatchObject({ taken: true, why: 'expired' });
    const ran = join(mkdtempSync(join(tmpdir(), 'gasp-fence-')), 'ran');
    const refused = await runHolding(paused, [process.execPath, '-e', `require('fs').writeFileSync('${ran}', '')`], {
      name: 'nightly',
      staleSeconds: 1,
      log: silentLogger,
    }).catch((error: unknown) => error as Error & { exitCode: number });
    expect(refused).toMatchObject({
      exitCode: 75,
      message: expect.stringMatching(/^lock nightly was taken over by another site before the command started/),
    });
    expect(existsSync(ran)).toBe(false);
    expect((await db.get<LockDoc>(lockId('nightly'))).holder.site).toBe('beta');
    await beta.release();
  }, 10_000);
});

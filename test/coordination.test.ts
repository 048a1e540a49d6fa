import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DryBackend } from '../src/backends/dry.js';
import { ServerClock } from '../src/db/clock.js';
import { AlreadyRunningError, SiteHeartbeat } from '../src/coordination/heartbeat.js';
import { Leadership } from '../src/coordination/leader.js';
import { runCycle, type Turn } from '../src/client/cycle.js';
import type { Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import { heartbeatId, LEADER_ID, lockId, type HeartbeatDoc, type LeaderDoc } from '../src/model/coordination.js';
import { GASP_BIN, runGasp } from './support/cli.js';
import { context, databaseWithJobs, jobs } from './support/jobs.js';
import { couchSection } from './support/couch.js';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(50);
  }
}

/** A folder with a dry site file per name and one config per site, coordinated with short intervals. */
function sitesFolder(
  db: Database,
  names: readonly string[],
  coordination = 'serialize = yes\nheartbeat = 0.5\nstale = 3\nconflict_delay = 0.5',
): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'gasp-coordination-'));
  return Object.fromEntries(
    names.map((name) => {
      writeFileSync(
        join(dir, `${name}.ini`),
        `name = ${name}\nbackend = dry\nmax_jobs = 1000\nstorage = file://${dir}/storage\n[rat]\n7.0.8 = CVMFS\n[local]\nworkdir = ${dir}/jobs-${name}\n`,
      );
      writeFileSync(
        join(dir, `${name}.cfg`),
        `${couchSection(db.name)}[client]\nsite = ${name}.ini\ninterval = 0.2\nmax_claim = 5\n[coordination]\n${coordination}\n`,
      );
      return [name, join(dir, `${name}.cfg`)];
    }),
  );
}

function startClient(
  config: string,
): ChildProcess & { stderr: NonNullable<ChildProcess['stderr']>; log: () => string } {
  const child = spawn(process.execPath, [GASP_BIN, 'enqueue', '-c', config, '--log-level', 'info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  return Object.assign(child as ChildProcess & { stderr: NonNullable<ChildProcess['stderr']> }, { log: () => log });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill(signal);
  return exited;
}

const heartbeatOf = (db: Database, site: string) => db.find<HeartbeatDoc>(heartbeatId(site, 'production'));

describe('one client per site', () => {
  it('refuses a second client of a running site, naming host, pid and since; starts once the first stopped', async () => {
    const db = await databaseWithJobs(3, 'coord-second');
    const config = sitesFolder(db, ['alpha'], 'heartbeat = 1\nstale = 30').alpha ?? '';
    const first = startClient(config);
    try {
      const beat = await until(
        'the first heartbeat',
        async () => (await heartbeatOf(db, 'alpha'))?.pid === first.pid && heartbeatOf(db, 'alpha'),
      );
      const second = await runGasp(['enqueue', '-c', config, '--once']);
      expect(second.code).toBe(1);
      expect(second.stderr.trim()).toBe(
        `site alpha (production) is already run by host ${hostname()} pid ${first.pid} since ${(await beat)?.started} (last heartbeat ${second.stderr.match(/last heartbeat (\d+) s ago/)?.[1]} s ago); stop that client first, or wait until its heartbeat is older than 30 s`,
      );
      const status = await runGasp(['sites', 'status', '-c', config, '--json']);
      expect(JSON.parse(status.stdout)).toMatchObject({
        serialize: false,
        leader: null,
        sites: [{ site: 'alpha', mode: 'production', state: 'active', host: hostname(), pid: first.pid }],
      });
    } finally {
      expect(await stop(first)).toBe(0);
    }
    expect((await heartbeatOf(db, 'alpha'))?.stopped).toBeDefined();
    const stopped = await runGasp(['sites', 'status', '-c', config]);
    expect(stopped.stdout).toMatch(/^alpha\s+production\s+stopped\s+\d+ s ago\s+0\s+/m);
    expect((await runGasp(['enqueue', '-c', config, '--once'])).code).toBe(0);
  });

  it('takes over a site whose client elsewhere went stale, and refuses one whose client elsewhere is alive', async () => {
    const db = await databaseWithJobs(1, 'coord-stale');
    const clock = new ServerClock(db.couch);
    await clock.sync();
    const elsewhere = (beat: Date): HeartbeatDoc => ({
      _id: heartbeatId('beta', 'production'),
      type: 'heartbeat',
      site: 'beta',
      mode: 'production',
      host: 'another-host',
      pid: 4242,
      instance: 'x',
      version: '0.0.1',
      takes_turns: false,
      started: beat.toISOString(),
      beat: beat.toISOString(),
    });
    const options = {
      site: 'beta',
      mode: 'production',
      version: 'test',
      heartbeatSeconds: 60,
      staleSeconds: 120,
      takesTurns: false,
    };
    const written = await db.put(elsewhere(new Date(clock.now().getTime() - 10_000)));
    const refused = await new SiteHeartbeat(db, clock, options).start().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AlreadyRunningError);
    expect((refused as Error).message).toMatch(
      /^site beta \(production\) is already run by host another-host pid 4242 since .* \(last heartbeat 1\d s ago\)/,
    );
    await db.put({ ...elsewhere(new Date(clock.now().getTime() - 600_000)), _rev: written.rev });
    const heartbeat = new SiteHeartbeat(db, clock, options);
    expect((await heartbeat.start())?.host).toBe('another-host');
    expect((await heartbeatOf(db, 'beta'))?.pid).toBe(process.pid);
    await heartbeat.stop();
  });
});

describe('serialized submission', () => {
  it('lets exactly one site submit at any instant, taking turns in alphabetical order, each pass once', async () => {
    const db = await databaseWithJobs(60, 'coord-turns');
    const clock = new ServerClock(db.couch);
    const names = ['north', 'east', 'west'];
    const turns: Array<{ site: string; from: number; to: number }> = [];
    const clients = await Promise.all(
      names.map(async (name) => {
        const heartbeat = new SiteHeartbeat(db, clock, {
          site: name,
          mode: 'production',
          version: 'test',
          heartbeatSeconds: 60,
          staleSeconds: 120,
          takesTurns: true,
        });
        await heartbeat.start();
        const leader = new Leadership(
          db,
          clock,
          { site: name, mode: 'production', staleSeconds: 120, conflictDelaySeconds: 0.05 },
          silentLogger,
        );
        let from = 0;
        // the turn as the cycle sees it: from the moment it may submit until it has handed over
        const turn: Turn = {
          myTurn: async () => {
            const mine = await leader.myTurn();
            if (mine) from = performance.now();
            return mine;
          },
          stillMine: () => leader.stillMine(),
          handOver: async () => {
            turns.push({ site: name, from, to: performance.now() });
            await leader.handOver();
          },
        };
        const backend = new DryBackend();
        return { name, heartbeat, turn, backend, ctx: { ...context(db, name, backend, 1000), maxClaim: 5 } };
      }),
    );
    // until every pass is done and every site had a turn, however slow the server (a shared CouchDB)
    const deadline = Date.now() + 25_000;
    let done = false;
    await Promise.all(
      clients.map(async ({ ctx, turn }) => {
        while (Date.now() < deadline && !done) {
          await runCycle(ctx, { submit: true, monitor: true, turn });
          if (new Set(turns.map((one) => one.site)).size === names.length)
            done = (await jobs(db)).every((doc) => doc.passes.every((pass) => pass.status === 'completed'));
          await wait(20);
        }
      }),
    );
    await Promise.all(clients.map(({ heartbeat }) => heartbeat.stop()));
    const sorted = [...turns].sort((a, b) => a.from - b.from);
    for (let index = 1; index < sorted.length; index++) {
      const [before, after] = [sorted[index - 1], sorted[index]];
      expect(after?.from, `${before?.site}'s turn overlaps ${after?.site}'s`).toBeGreaterThanOrEqual(before?.to ?? 0);
    }
    expect(new Set(turns.map((turn) => turn.site))).toEqual(new Set(names));
    // handed over in alphabetical order, wrapping around: east, north, west, east…
    const order = sorted.map((turn) => turn.site).filter((site, index, all) => site !== all[index - 1]);
    for (let index = 1; index < order.length; index++)
      expect(order[index]).toBe({ east: 'north', north: 'west', west: 'east' }[order[index - 1] ?? '']);
    const submitted = clients.flatMap(({ backend }) =>
      backend.submitted.map((job) => job.name.replace(/-[0-9a-f]{8}$/, '')),
    );
    expect(new Set(submitted).size).toBe(submitted.length);
    expect((await jobs(db)).flatMap((doc) => doc.passes).filter((pass) => pass.status === 'completed').length).toBe(
      submitted.length,
    );
  }, 40_000);

  it('passes over a quarantined site: it hands the lead on, and no site hands it back', async () => {
    const db = await databaseWithJobs(2, 'coord-quarantine');
    const clock = new ServerClock(db.couch);
    const beats = await Promise.all(
      ['alpha', 'beta'].map(async (site) => {
        const heartbeat = new SiteHeartbeat(db, clock, {
          site,
          mode: 'production',
          version: 'test',
          heartbeatSeconds: 60,
          staleSeconds: 120,
          takesTurns: true,
        });
        await heartbeat.start();
        return heartbeat;
      }),
    );
    const lead = (site: string) =>
      new Leadership(
        db,
        clock,
        { site, mode: 'production', staleSeconds: 120, conflictDelaySeconds: 0.05 },
        silentLogger,
      );
    try {
      expect(await lead('alpha').myTurn()).toBe(true);
      await db.put({
        _id: 'quarantine:alpha',
        type: 'quarantine',
        site: 'alpha',
        since: new Date().toISOString(),
        reason: 'set-up keeps failing',
        by: 'site alpha',
      });
      expect(await lead('alpha').turnTakers()).toEqual(['beta']);
      // alpha's quarantined cycle hands over; beta, once it led, has nobody to hand back to
      await runCycle(context(db, 'alpha', new DryBackend()), { submit: true, monitor: true, turn: lead('alpha') });
      expect((await db.get<LeaderDoc>(LEADER_ID)).site).toBe('beta');
      expect(await lead('beta').myTurn()).toBe(true);
      await lead('beta').handOver();
      expect((await db.get<LeaderDoc>(LEADER_ID)).site).toBe('beta');
    } finally {
      await Promise.all(beats.map((heartbeat) => heartbeat.stop()));
    }
  });

  it('lets another site lead within the stale window after the leader is killed, and takes the killed site back when it restarts', async () => {
    const db = await databaseWithJobs(200, 'coord-kill');
    const config = sitesFolder(db, ['aa', 'bb']);
    let aa = startClient(config.aa ?? '');
    const bb = startClient(config.bb ?? '');
    try {
      await until(
        'both sites beating',
        async () => (await heartbeatOf(db, 'aa')) !== undefined && (await heartbeatOf(db, 'bb')) !== undefined,
      );
      await until('aa to lead', async () => (await db.find<LeaderDoc>(LEADER_ID))?.site === 'aa', 20_000);
      aa.kill('SIGKILL');
      const killed = Date.now();
      await new Promise((resolve) => aa.once('exit', resolve));
      // bb leads by hand-over or, once aa's heartbeat is 3 s old, by taking over; then it keeps the lead
      await until('bb to lead', async () => (await db.find<LeaderDoc>(LEADER_ID))?.site === 'bb');
      const since = (await heartbeatOf(db, 'aa'))?.beat ?? '';
      await wait(3_500);
      const leader = await db.find<LeaderDoc>(LEADER_ID);
      expect(leader?.site).toBe('bb');
      expect(Date.parse(leader?.since ?? '') - Date.parse(since)).toBeLessThan(6_000);
      expect(Date.now() - killed).toBeLessThan(10_000);
      const claimedByBb = (await jobs(db)).flatMap((doc) => doc.passes).filter((pass) => pass.site === 'bb').length;
      await until(
        'bb to go on submitting alone',
        async () =>
          (await jobs(db)).flatMap((doc) => doc.passes).filter((pass) => pass.site === 'bb').length > claimedByBb,
      );
      aa = startClient(config.aa ?? '');
      await until(
        'aa to lead again after its restart',
        async () => (await db.find<LeaderDoc>(LEADER_ID))?.site === 'aa',
        15_000,
      );
      expect(aa.log()).toContain('took over from a client of this site that died or went stale');
    } finally {
      await stop(aa);
      await stop(bb);
    }
  }, 60_000);
});

describe('gasp lock-run', () => {
  const script = (file: string, seconds: number, exit = 0) => [
    process.execPath,
    '-e',
    `const fs = require('fs'); fs.appendFileSync(${JSON.stringify(file)}, 'start\\n'); setTimeout(() => { fs.appendFileSync(${JSON.stringify(file)}, 'end\\n'); process.exit(${exit}); }, ${seconds * 1000});`,
  ];

  it('runs the command at one site at a time: a contender is told who holds the lock (exit 75), or waits its turn with --wait', async () => {
    const db = await databaseWithJobs(1, 'coord-lock');
    const config = sitesFolder(db, ['one', 'two'], 'heartbeat = 1\nstale = 10');
    const file = join(mkdtempSync(join(tmpdir(), 'gasp-lock-')), 'runs.txt');
    // held long enough for the contender to start, on a loaded machine too
    const first = runGasp(['lock-run', '-c', config.one ?? '', '--name', 'nightly', '--', ...script(file, 4)]);
    await until('the lock to be taken', async () => (await db.find(lockId('nightly'))) !== undefined);
    const refused = await runGasp(['lock-run', '-c', config.two ?? '', '--name', 'nightly', '--', ...script(file, 0)]);
    expect(refused.code).toBe(75);
    expect(refused.stderr.trim()).toMatch(
      new RegExp(
        `^lock nightly is held by site one \\(host ${hostname()} pid \\d+ since .*, running: .*\\); not running `,
      ),
    );
    const waited = runGasp([
      'lock-run',
      '-c',
      config.two ?? '',
      '--name',
      'nightly',
      '--wait',
      '20',
      '--',
      ...script(file, 0.2, 3),
    ]);
    expect((await first).code).toBe(0);
    expect((await waited).code).toBe(3);
    expect(readFileSync(file, 'utf8')).toBe('start\nend\nstart\nend\n');
    expect(await db.find(lockId('nightly'))).toBeUndefined();
  }, 30_000);

  it('takes over a lock whose holder stopped renewing it', async () => {
    const db = await databaseWithJobs(1, 'coord-lock-stale');
    const config = sitesFolder(db, ['three'], 'heartbeat = 1\nstale = 5');
    await db.put({
      _id: lockId('cleanup'),
      type: 'lock',
      name: 'cleanup',
      holder: { site: 'gone', host: 'elsewhere', pid: 1, instance: 'x' },
      command: 'x',
      taken: '2020-01-01T00:00:00.000Z',
      renewed: '2020-01-01T00:00:00.000Z',
    });
    const result = await runGasp([
      'lock-run',
      '-c',
      config.three ?? '',
      '--name',
      'cleanup',
      '--',
      process.execPath,
      '-e',
      'process.exit(0)',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('took over lock cleanup from site gone (host elsewhere pid 1)');
  });

  it('takes over at once a lock whose holder on this host is gone, though it renewed it just now', async () => {
    const db = await databaseWithJobs(1, 'coord-lock-dead');
    const config = sitesFolder(db, ['four'], 'heartbeat = 1\nstale = 600');
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const now = new Date().toISOString();
    await db.put({
      _id: lockId('reprocess'),
      type: 'lock',
      name: 'reprocess',
      holder: { site: 'four', host: hostname(), pid: gone, instance: 'x' },
      command: 'x',
      taken: now,
      renewed: now,
      until: new Date(Date.now() + 600_000).toISOString(),
    });
    const result = await runGasp([
      'lock-run',
      '-c',
      config.four ?? '',
      '--name',
      'reprocess',
      '--',
      process.execPath,
      '-e',
      'process.exit(0)',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(
      `took over lock reprocess from site four (host ${hostname()} pid ${gone}), whose process is gone`,
    );
  });
});

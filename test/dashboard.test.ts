import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard } from '../src/dashboard/server.js';
import type { Overview } from '../src/dashboard/data.js';
import type { Database } from '../src/db/database.js';
import { silentLogger } from '../src/log.js';
import type { JobDoc, Pass } from '../src/model/documents.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { Secret } from '../src/secret.js';
import { runGasp } from './support/cli.js';
import { folderWith } from './support/files.js';
import { skipUnless } from './support/skip.js';
import { databaseWithJobs, jobs } from './support/jobs.js';
import { couchSection } from './support/couch.js';

/** Debian's chromium, which .ci/run installs; without it the browser test is skipped unless CI asks for it. */
const CHROMIUM = ['chromium', 'chromium-browser'].find(
  (name) => spawnSync(name, ['--version'], { encoding: 'utf8' }).status === 0,
);
if (CHROMIUM === undefined && process.env.GASP_REQUIRE_CHROMIUM === '1')
  throw new Error('GASP_REQUIRE_CHROMIUM=1 but no chromium here (apt-get install chromium)');

const HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1"><script>document.body.dataset.pwned=2</script>';
const ARTIFACTS = join(PACKAGE_ROOT, 'artifacts');

let db: Database;
let dashboard: { url: URL; close: () => Promise<void> };

/**
 * Eight passes: label enq with 3 completed at site ral (one an hour ago), 2 failed at ral (exit 20
 * and 30), 3 waiting; and one completed pass of a module whose name is HTML, written by hand.
 */
beforeAll(async () => {
  db = await databaseWithJobs(8, 'dashboard');
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
  const now = new Date().toISOString();
  const ended = (pass: Pass, status: Pass['status'], finished: string, code: number): Pass => ({
    ...pass,
    status,
    site: 'ral',
    attempts: [{ site: 'ral', status, started: finished, finished, token: 't' }],
    subjobs: [{ index: 0, state: status === 'completed' ? 'completed' : 'failed', exit_code: code }],
  });
  const plan: Array<[Pass['status'], string, number] | undefined> = [
    ['completed', hourAgo, 0],
    ['completed', now, 0],
    ['completed', now, 0],
    ['failed', now, 20],
    ['failed', now, 30],
  ];
  const docs = (await jobs(db)).map((doc, index): JobDoc => {
    const step = plan[index];
    return step === undefined ? doc : { ...doc, passes: doc.passes.map((pass) => ended(pass, ...step)) };
  });
  const hostile: JobDoc = {
    _id: 'job:hostile:1',
    type: 'job',
    module: HOSTILE,
    run: 1,
    passes: [ended({ ...(docs[0]?.passes[0] as Pass), label: 'enq' }, 'completed', now, 0)],
  };
  await db.bulkDocs([...docs, hostile]);
  await db.put({
    _id: 'policy:enq',
    type: 'policy',
    label: 'enq',
    paused: { since: now, reason: 'paused by hand', by: 'shifter@test' },
  });
  const beat = new Date().toISOString();
  await db.put({
    _id: 'coordination:heartbeat:ral:production',
    type: 'heartbeat',
    site: 'ral',
    mode: 'production',
    host: 'h',
    pid: 1,
    instance: 'x',
    version: 'test',
    takes_turns: false,
    started: beat,
    beat,
    capabilities: { rat_versions: ['7.0.8'], modes: ['production'], max_jobs: 10, paused_labels: [], claims: true },
  });
  dashboard = await startDashboard({
    host: '127.0.0.1',
    port: 0,
    databases: { production: db },
    staleSeconds: 1800,
    log: silentLogger,
  });
});

afterAll(async () => {
  await dashboard?.close();
});

describe('the dashboard API', () => {
  it('gives counts per label, module and status, throughput per hour, failures by site and exit code, sites, paused labels and why passes wait', async () => {
    const response = await fetch(new URL('/api/overview?mode=production', dashboard.url));
    expect(response.status).toBe(200);
    const data = (await response.json()) as Overview;
    expect(data.totals).toMatchObject({ passes: 9, byStatus: { completed: 4, failed: 2, waiting: 3 } });
    expect(data.labels).toEqual([
      expect.objectContaining({
        label: 'enq',
        passes: 9,
        paused: expect.objectContaining({ reason: 'paused by hand' }),
      }),
    ]);
    expect(data.modules.map((module) => [module.module, module.passes])).toEqual([
      [HOSTILE, 1],
      ['PartialPo210', 8],
    ]);
    expect(data.throughput).toHaveLength(72);
    expect(data.throughput.slice(-2).map((point) => point.completed)).toEqual([1, 3]);
    expect(data.failures).toEqual([
      { site: 'ral', exitCode: '20', passes: 1 },
      { site: 'ral', exitCode: '30', passes: 1 },
    ]);
    expect(data.sites).toEqual([
      expect.objectContaining({ site: 'ral', mode: 'production', state: 'active', held: 0, quarantined: null }),
    ]);
    expect(data.waiting).toMatchObject({
      judged: 3,
      reasons: [{ reason: 'ral: label enq is paused (gasp resume --label enq)', passes: 3 }],
    });
  });

  it("only reads: anything but GET and HEAD is refused, and only from this machine's own names", async () => {
    const response = await fetch(new URL('/api/overview', dashboard.url), { method: 'POST' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    // a page of another site reaching it through a DNS name rebound to 127.0.0.1 is turned away
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(
        new URL('/api/overview', dashboard.url),
        { headers: { host: `evil.example:${dashboard.url.port}` } },
        (answer) => {
          answer.resume();
          resolve(answer.statusCode);
        },
      )
        .once('error', reject)
        .end();
    });
    expect(status).toBe(421);
  });

  it('asks for the credential when one is set, and refuses to serve beyond this machine without one', async () => {
    const guarded = await startDashboard({
      host: '127.0.0.1',
      port: 0,
      databases: { production: db },
      staleSeconds: 1800,
      credential: { user: 'viewer', password: new Secret('s3cret') },
      log: silentLogger,
    });
    try {
      expect((await fetch(guarded.url)).status).toBe(401);
      const login = `Basic ${Buffer.from('viewer:s3cret').toString('base64')}`;
      expect((await fetch(guarded.url, { headers: { authorization: login } })).status).toBe(200);
    } finally {
      await guarded.close();
    }
    const dir = folderWith({ 'gasp.cfg': couchSection(db.name) });
    const refused = await runGasp(['dashboard', '-c', join(dir, 'gasp.cfg'), '--host', '0.0.0.0', '--port', '0'], {
      cwd: dir,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      `--host: "0.0.0.0" would show the campaign beyond this machine (expected 127.0.0.1, or [dashboard] user and password_file in ${join(dir, 'gasp.cfg')} for a read-only login)`,
    );
  });
});

describe('gasp dashboard on a port in use', () => {
  it('says which port and what to do in one line, and exits 1', async () => {
    const port = new URL(dashboard.url).port;
    const dir = folderWith({ 'gasp.cfg': couchSection(db.name) });
    const result = await runGasp(['dashboard', '-c', join(dir, 'gasp.cfg'), '--port', port], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `port ${port} on 127.0.0.1 is in use (another gasp dashboard?); choose another with --port`,
    );
  });
});

describe('the dashboard page in headless Chromium', () => {
  skipUnless(
    CHROMIUM !== undefined,
    'no chromium here: apt-get install chromium (.ci/run installs it and sets GASP_REQUIRE_CHROMIUM=1)',
  );
  // not spawnSync: the dashboard answers from this same process, so its event loop must keep running
  const browse = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const child = spawn(
        CHROMIUM ?? 'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--hide-scrollbars',
          '--virtual-time-budget=10000',
          '--window-size=1400,1700',
          ...args,
          new URL('/?mode=production', dashboard.url).href,
        ],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
          timeout: 90_000,
        },
      );
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.once('error', reject);
      child.once('close', () => resolve(out));
    });

  it('draws the charts and shows the numbers, with a module named in HTML as plain text, and saves a screenshot', async () => {
    const dom = await browse(['--dump-dom']);
    expect(dom).toContain('data-ready="true"');
    // every chart drawn: ECharts puts a canvas in each
    for (const id of ['chart-labels', 'chart-modules', 'chart-throughput', 'chart-failures', 'chart-events'])
      expect(dom).toMatch(new RegExp(`id="${id}"[^>]*>.*?<canvas`, 's'));
    expect(dom).toMatch(/data-total="passes"><div class="number">9<\/div>/);
    expect(dom).toMatch(/data-total="failed"><div class="number">2<\/div>/);
    expect(dom).toContain('<td>ral: label enq is paused (gasp resume --label enq)</td><td class="number">3</td>');
    expect(dom).toContain('<td class="state-active">active</td>');
    // the hostile name is text in the page; neither of its scripts ran
    expect(dom).not.toContain('data-pwned');
    expect(dom).not.toMatch(/<img src="?x/);

    mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, 'dashboard.png');
    await browse([`--screenshot=${screenshot}`]);
    expect(statSync(screenshot).size).toBeGreaterThan(20_000);
    expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');
  }, 120_000);
});

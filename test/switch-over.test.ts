import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DryBackend } from '../src/backends/dry.js';
import { runCycle } from '../src/client/cycle.js';
import { newestTime } from '../src/coordination/old-gasp.js';
import { overview } from '../src/dashboard/data.js';
import type { Database } from '../src/db/database.js';
import type { JobDoc, Pass } from '../src/model/documents.js';
import { labelsOf, mainLabel } from '../src/model/label.js';
import { runGasp } from './support/cli.js';
import { couchSection } from './support/couch.js';
import { folderWith } from './support/files.js';
import { captureLog } from './support/log.js';
import { context, databaseWithJobs, jobs } from './support/jobs.js';

/** GASP's time format: `%Y-%m-%d %H:%M:%S`, UTC, no zone. */
const gaspTime = (minutesAgo: number) =>
  new Date(Date.now() - minutesAgo * 60_000).toISOString().slice(0, 19).replace('T', ' ');

/** The enqueue_command documents of two GASP sites, the newest heartbeat `minutesAgo`. */
async function oldClients(db: Database, minutesAgo: number): Promise<void> {
  await db.bulkDocs([
    { _id: 'enqueue_leader', leader: 'cedar', running: 'cedar', status: 'running' },
    { _id: 'enqueue_sites', sites: ['heartbeat_cedar', 'heartbeat_liverpool'] },
    { _id: 'heartbeat_cedar', time: gaspTime(minutesAgo) },
    { _id: 'heartbeat_liverpool', time: gaspTime(minutesAgo + 90) },
  ]);
}

/**
 * Four Po210 jobs as a database GASP ran would hold them: run 1 `new` (a Ganga job made, not
 * submitted), run 2 submitted by GASP's client (no gasp claim), runs 3–4 waiting; every pass
 * labelled with a list, as manage_production_labels.py leaves it.
 */
async function gaspDatabase(prefix: string): Promise<Database> {
  const db = await databaseWithJobs(4, prefix);
  const old: Record<number, Partial<Pass>> = {
    1: { status: 'new', site: 'cedar' },
    2: { status: 'submitted', site: 'cedar' },
  };
  await db.bulkDocs(
    (await jobs(db)).map((doc): JobDoc => ({
      ...doc,
      passes: doc.passes.map((pass) => ({ ...pass, label: ['Water_Test', 'v2'], ...old[doc.run] })),
    })),
  );
  return db;
}

/** `gasp ARGS` from a folder whose config names this database and a dry-backend site. */
function gaspWithSite(db: Database, args: readonly string[]) {
  const dir = folderWith({
    'gasp.cfg': `${couchSection(db.name)}[client]\nsite = site.ini\n`,
    'site.ini': `name = here\nbackend = dry\nstorage = file://${join('/tmp', `gasp-switch-${db.name}`)}\n[rat]\n7.0.8 = CVMFS\n`,
  });
  return runGasp([...args, '-c', join(dir, 'gasp.cfg')], { cwd: dir });
}

describe('labels kept as lists', () => {
  it('are read as every label they name, the first naming folders and LFNs', () => {
    expect(labelsOf(['Water_Test', 'v2'])).toEqual(['Water_Test', 'v2']);
    expect(labelsOf('mc')).toEqual(['mc']);
    expect(mainLabel(['Water_Test', 'v2'])).toBe('Water_Test');
    expect(labelsOf(7)).toEqual([]);
  });

  it('select, count and run their passes under each of their labels', async () => {
    const db = await gaspDatabase('listlabel');
    expect((await gaspWithSite(db, ['summary', '--label', 'v2'])).stdout.split('\n')[0]).toBe(
      'label v2: 4 passes (new 1, submitted 1, waiting 2)',
    );
    expect((await gaspWithSite(db, ['summary', '--label', 'Water_Test'])).stdout.split('\n')[0]).toBe(
      'label Water_Test: 4 passes (new 1, submitted 1, waiting 2)',
    );
    const ctx = context(db, 'here', new DryBackend());
    await runCycle(ctx, { submit: true, monitor: true });
    const byRun = Object.fromEntries((await jobs(db)).map((doc) => [doc.run, doc.passes[0]?.status]));
    // the client takes the waiting ones, and leaves GASP's `new` and submitted passes alone
    expect(byRun).toEqual({ 1: 'new', 2: 'submitted', 3: 'submitted', 4: 'submitted' });
    const ran = (await jobs(db)).find((doc) => doc.run === 3)?.passes[0];
    expect(ran?.label).toEqual(['Water_Test', 'v2']);
    expect(ran?.claim).toBeDefined();
  });
});

describe('the dashboard of a GASP database', () => {
  it('counts a pass of two labels under each label but once in the totals and its module, with its status new', async () => {
    const db = await gaspDatabase('gaspdash');
    const seen = await overview(db, 'production', 60);
    expect([seen.totals.passes, seen.totals.byStatus]).toEqual([4, { new: 1, submitted: 1, waiting: 2 }]);
    expect(seen.labels.map((label) => [label.label, label.passes])).toEqual([
      ['v2', 4],
      ['Water_Test', 4],
    ]);
    expect(seen.modules.map((module) => [module.module, module.passes])).toEqual([['PartialPo210', 4]]);
  });
});

describe('GASP statuses', () => {
  it('gasp why explains a new pass and one submitted by GASP, and how to take them over', async () => {
    const db = await gaspDatabase('gaspwhy');
    const why = await gaspWithSite(db, ['why', '--label', 'v2']);
    expect(why.code).toBe(0);
    expect(why.stdout).toContain(
      "1 pass (PartialPo210 1 pass 1) new: GASP's old client made a Ganga job for it and had not submitted it when it last wrote; gasp never runs a pass in this status. Once GASP's clients are stopped (gasp switch-over says whether they are), gasp retry --module PartialPo210 --run 1 --pass 1 --yes puts it back to waiting",
    );
    expect(why.stdout).toContain(
      "1 pass (PartialPo210 2 pass 1) submitted under GASP's client at cedar (no gasp claim): only that client follows its jobs, so keep gasp_client.py --mononly running until it ends; gasp leaves it alone",
    );
  });

  it('gasp retry leaves new passes alone while a GASP heartbeat is fresh, and puts them back to waiting after', async () => {
    const db = await gaspDatabase('gaspretry');
    await oldClients(db, 2);
    const kept = await gaspWithSite(db, ['retry', '--label', 'v2', '--status', 'new', '--yes']);
    expect(kept.stdout).toMatch(/changed 0 of 1 pass; 1 left as it is: GASP's clients may still submit them/);
    expect((await jobs(db)).find((doc) => doc.run === 1)?.passes[0]?.status).toBe('new');
    await db.bulkDocs([{ ...(await db.get('heartbeat_cedar')), time: gaspTime(45) }]);
    const retried = await gaspWithSite(db, ['retry', '--label', 'v2', '--status', 'new', '--yes']);
    expect(retried.stdout).toMatch(/retry: changed 1 of 1 pass; recorded in the audit/);
    expect((await jobs(db)).find((doc) => doc.run === 1)?.passes[0]?.status).toBe('waiting');
  });
});

describe("GASP's held passes", () => {
  it('are never submitted, monitored or released by gasp, even by a site of the same name', async () => {
    const db = await gaspDatabase('gaspheld');
    const backend = new DryBackend();
    const ctx = context(db, 'cedar', backend);
    await runCycle(ctx, { submit: true, monitor: true });
    await runCycle(ctx, { submit: true, monitor: true });
    const run2 = (await jobs(db)).find((doc) => doc.run === 2)?.passes[0];
    expect([run2?.status, run2?.claim, run2?.subjobs?.[0]?.backend_id]).toEqual(['submitted', undefined, undefined]);
    // only the two waiting passes reached the backend
    expect(backend.submitted).toHaveLength(2);
    const unlock = await gaspWithSite(db, ['unlock', 'cedar', '--yes', '--force']);
    expect(unlock.stdout.trim()).toBe(
      "unlock: released 0 of 0 passes of site cedar; 1 pass under GASP's client (no gasp claim) left to it; recorded in the audit",
    );
    expect((await jobs(db)).find((doc) => doc.run === 2)?.passes[0]?.status).toBe('submitted');
  });
});

describe('switching over from GASP', () => {
  it('reads the newest time of a heartbeat document in GASP format or ISO, as UTC', () => {
    expect(newestTime({ _id: 'heartbeat_x', time: '2026-12-01 08:00:00', older: '2026-11-30 08:00:00' })).toBe(
      '2026-12-01T08:00:00.000Z',
    );
    expect(newestTime({ beat: '2026-12-01T09:00:00+01:00' })).toBe('2026-12-01T08:00:00.000Z');
    expect(newestTime({ none: 'x' })).toBeUndefined();
  });

  it('gasp enqueue refuses to start beside GASP, naming its documents; switch-over removes them once they are stale', async () => {
    const db = await databaseWithJobs(2, 'switch');
    await oldClients(db, 3);
    const refused = await gaspWithSite(db, ['enqueue', '--once']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(
      /^gasp enqueue: t?.*holds GASP's enqueue_command 4 documents \(enqueue_leader, enqueue_sites, heartbeat_cedar, heartbeat_liverpool; newest heartbeat 3 min ago, so an old client may still be submitting\); gasp and GASP must never submit from one database/,
    );
    expect((await jobs(db)).every((doc) => doc.passes.every((pass) => pass.status === 'waiting'))).toBe(true);

    const look = await gaspWithSite(db, ['switch-over']);
    expect(look.code).toBe(1);
    expect(look.stdout.split('\n')[0]).toMatch(/^✗ .*stop GASP's enqueue_command at every site first$/);
    const early = await gaspWithSite(db, ['switch-over', '--yes']);
    expect(early.stdout).toContain('switch-over: nothing removed:');
    expect(await db.find('enqueue_leader')).toBeDefined();

    // GASP's clients stopped: their heartbeats go stale
    await db.bulkDocs([{ ...(await db.get('heartbeat_cedar')), time: gaspTime(40) }]);
    const removed = await gaspWithSite(db, ['switch-over', '--yes']);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(
      'switch-over: removed enqueue_leader, enqueue_sites, heartbeat_cedar, heartbeat_liverpool; recorded in the audit: gasp enqueue may start',
    );
    const started = await gaspWithSite(db, ['enqueue', '--once']);
    expect(started.code).toBe(0);
    expect((await jobs(db)).every((doc) => doc.passes.every((pass) => pass.status === 'submitted'))).toBe(true);
  });

  it('a running client claims nothing new while GASP documents appear beside it, says so once, and claims again once they are gone', async () => {
    const db = await databaseWithJobs(2, 'besideold');
    const { log, lines } = captureLog();
    let offsetMs = 0;
    const ctx = { ...context(db, 'here', new DryBackend()), log, now: () => new Date(Date.now() + offsetMs) };
    await oldClients(db, 1);
    expect((await runCycle(ctx, { submit: true, monitor: true })).claimed).toBe(0);
    expect((await runCycle(ctx, { submit: true, monitor: true })).claimed).toBe(0);
    const said = lines.filter((line) => line.msg.includes('claiming nothing new'));
    expect(said).toHaveLength(1);
    expect(said[0]?.msg).toMatch(/holds GASP's enqueue_command 4 documents .*gasp switch-over --yes$/);
    for (const id of ['enqueue_leader', 'enqueue_sites', 'heartbeat_cedar', 'heartbeat_liverpool'])
      await db.remove(id, (await db.get(id))._rev ?? '');
    // it looks again every five minutes
    offsetMs = 6 * 60_000;
    expect((await runCycle(ctx, { submit: true, monitor: true })).claimed).toBe(2);
    expect(lines.some((line) => line.msg === "GASP's enqueue_command documents are gone: claiming again")).toBe(true);
  });

  it('takes a heartbeat document it cannot read a time from as a client that may still run', async () => {
    const db = await databaseWithJobs(1, 'oldnotime');
    await db.bulkDocs([
      { _id: 'enqueue_sites', sites: ['heartbeat_x'] },
      { _id: 'heartbeat_x', time: 1796000000 },
    ]);
    const look = await gaspWithSite(db, ['switch-over', '--yes']);
    expect(look.code).toBe(1);
    expect(look.stdout).toContain('switch-over: nothing removed: t');
    expect(look.stdout).toContain(
      'no heartbeat time gasp can read in them, so nothing says the old clients stopped); stop them, or --force',
    );
    expect(await db.find('heartbeat_x')).toBeDefined();
  });
});

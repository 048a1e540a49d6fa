import { describe, expect, it } from 'vitest';
import { DryBackend } from '../src/backends/dry.js';
import type { ClientContext } from '../src/client/context.js';
import { runCycle } from '../src/client/cycle.js';
import type { Database } from '../src/db/database.js';
import { loadDesignDocs, pushDesignDocs } from '../src/db/design-docs.js';
import { heartbeatId, type HeartbeatDoc } from '../src/model/coordination.js';
import { jobId, type JobDoc, type ReadyPass } from '../src/model/documents.js';
import { BUNDLED_VIEWS } from '../src/paths.js';
import { passKey, spreadClaims } from '../src/queue/spread.js';
import { testCouch, uniqueName } from './support/couch.js';
import { context, INFO, jobs } from './support/jobs.js';

const ready = (run: number, priority = 0): ReadyPass => ({
  module: 'M',
  run,
  pass: 1,
  rat_version: '7.0.8',
  label: 'l',
  priority,
  created: new Date(1_700_000_000_000 + run).toISOString(),
});
const SITES = ['a', 'b', 'c', 'd'];
const alone = () => 0;

describe('spreading claims over the queue (pure)', () => {
  it('gives each waiting pass one owner: sites reading the same head claim disjoint passes that cover it', () => {
    const head = Array.from({ length: 400 }, (_, index) => ready(index + 1));
    const shares = SITES.map(
      (site) => spreadClaims({ eligible: head, room: 1_000, site, peers: () => SITES, seen: alone }).claim,
    );
    const keys = shares.flat().map(passKey);
    expect(new Set(keys).size).toBe(400);
    expect(keys).toHaveLength(400);
    // roughly even: no site is given more than twice its fair share
    for (const share of shares) expect(share.length).toBeGreaterThan(50);
    for (const share of shares) expect(share.length).toBeLessThan(200);
  });

  it('claims no lower-priority pass while it leaves a higher-priority one to another site', () => {
    const head = [...Array.from({ length: 20 }, (_, i) => ready(i + 1, 5)), ready(100, 0), ready(101, 0)];
    for (const site of SITES) {
      const { claim, left } = spreadClaims({ eligible: head, room: 50, site, peers: () => SITES, seen: alone });
      expect(claim.every((pass) => pass.priority === 5)).toBe(true);
      expect(left.length + claim.length).toBe(20);
    }
  });

  it('goes on to the next priority once it took every pass of the higher one', () => {
    const head = [ready(1, 5), ...Array.from({ length: 20 }, (_, i) => ready(i + 2, 0))];
    const { claim } = spreadClaims({
      eligible: head,
      room: 10,
      site: 'a',
      peers: (pass) => (pass.priority === 5 ? ['a'] : ['a', 'b']),
      seen: alone,
    });
    expect(claim.map((pass) => pass.run)).toContain(1);
    expect(claim.some((pass) => pass.priority === 0)).toBe(true);
  });

  it('adopts a pass its owner left: the next site in its line after one cycle, any site after two', () => {
    const head = Array.from({ length: 40 }, (_, index) => ready(index + 1));
    const owners = new Map<string, string>();
    for (const site of SITES)
      for (const pass of spreadClaims({ eligible: head, room: 100, site, peers: () => SITES, seen: alone }).claim)
        owners.set(passKey(pass), site);
    const ofD = head.filter((pass) => owners.get(passKey(pass)) === 'd');
    expect(ofD.length).toBeGreaterThan(0);
    const takers = (pass: ReadyPass, seen: number) =>
      ['a', 'b', 'c'].filter(
        (site) =>
          spreadClaims({ eligible: [pass], room: 100, site, peers: () => SITES, seen: () => seen }).claim.length,
      );
    for (const pass of ofD) {
      expect(takers(pass, 0)).toEqual([]);
      expect(takers(pass, 1)).toHaveLength(1);
      expect(takers(pass, 2)).toEqual(['a', 'b', 'c']);
    }
  });

  it("moves only the leaving site's share when a site leaves, and keeps two passes of one job together", () => {
    const head = Array.from({ length: 400 }, (_, index) => ready(index + 1));
    const ownerOf = (peers: string[]) => {
      const owners = new Map<string, string>();
      for (const site of peers)
        for (const pass of spreadClaims({ eligible: head, room: 1_000, site, peers: () => peers, seen: alone }).claim)
          owners.set(passKey(pass), site);
      return owners;
    };
    const before = ownerOf(SITES);
    const after = ownerOf(['a', 'b', 'c']);
    const moved = head.filter((pass) => before.get(passKey(pass)) !== after.get(passKey(pass)));
    expect(moved.every((pass) => before.get(passKey(pass)) === 'd')).toBe(true);
    const second = { ...ready(7), pass: 2 };
    const sites = SITES.filter(
      (site) =>
        spreadClaims({ eligible: [ready(7), second], room: 10, site, peers: () => SITES, seen: alone }).claim.length >
        0,
    );
    expect(sites).toHaveLength(1);
  });
});

/** `count` jobs of one waiting pass each; runs from `first`, all at `priority`. */
async function seed(db: Database, first: number, count: number, priority: number): Promise<void> {
  const docs: JobDoc[] = Array.from({ length: count }, (_, index) => {
    const run = first + index;
    return {
      _id: jobId('PartialPo210', run),
      type: 'job',
      module: 'PartialPo210',
      run,
      passes: [
        {
          pass: 1,
          status: 'waiting',
          rat_version: '7.0.8',
          label: `p${priority}`,
          priority,
          created: new Date(1_700_000_000_000 + run).toISOString(),
          event_mode: 'number',
          amount: { events: 10 },
          template: { fill_volume: 'lower' },
          macro_sha256: INFO.modules.PartialPo210?.sha256 ?? '',
          attempts: [],
        },
      ],
    };
  });
  await db.bulkDocs(docs);
}

async function heartbeat(db: Database, site: string): Promise<void> {
  const now = new Date().toISOString();
  const doc: HeartbeatDoc = {
    _id: heartbeatId(site, 'production'),
    type: 'heartbeat',
    site,
    host: 'elsewhere',
    pid: 1,
    instance: site,
    mode: 'production',
    version: 'test',
    takes_turns: false,
    started: now,
    beat: now,
  };
  await db.put(doc);
}

/** The four sites, each claiming at most `claims[i]` passes a cycle. */
async function sitesOn(db: Database, claims: readonly number[]): Promise<ClientContext[]> {
  for (const site of SITES) await heartbeat(db, site);
  return SITES.map((site, index) => ({ ...context(db, site, new DryBackend(), 200), maxClaim: claims[index] ?? 0 }));
}

/**
 * Rounds of one cycle at every site at once. After each: how many passes of each priority are
 * claimed, and whether any urgent one (priority 10) still waits.
 */
async function claimRounds(db: Database, sites: readonly ClientContext[], rounds: number) {
  const after: Array<{ high: number; low: number; highWaiting: number }> = [];
  let contended = 0;
  for (let round = 1; round <= rounds; round++) {
    const stats = await Promise.all(sites.map((ctx) => runCycle(ctx, { submit: true, monitor: false })));
    contended += stats.reduce((sum, one) => sum + one.contended, 0);
    const passes = (await jobs(db)).flatMap((doc) => doc.passes);
    const claimed = (priority: number) =>
      passes.filter((pass) => pass.priority === priority && pass.site !== undefined).length;
    after.push({
      high: claimed(10),
      low: claimed(0),
      highWaiting: passes.filter((pass) => pass.priority === 10 && pass.status === 'waiting').length,
    });
  }
  return { after, contended };
}

/** No round claimed a lower-priority pass and ended with an urgent one waiting. */
const orderHeld = (after: ReadonlyArray<{ low: number; highWaiting: number }>) =>
  after.every((round, index) => round.low === (after[index - 1]?.low ?? 0) || round.highWaiting === 0);

describe('four sites on one database (real server)', () => {
  async function database(): Promise<Database> {
    const db = testCouch().use(uniqueName('spread'));
    await db.create();
    await pushDesignDocs(db, loadDesignDocs(BUNDLED_VIEWS));
    await db.put(INFO);
    await seed(db, 1, 60, 0);
    await seed(db, 1_000, 40, 10);
    return db;
  }

  it('claim every pass once, with no conflicts, every higher-priority pass before any lower one', async () => {
    const db = await database();
    const sites = await sitesOn(db, [30, 30, 30, 30]);
    const { after, contended } = await claimRounds(db, sites, 3);
    expect(after.at(-1)).toEqual({ high: 40, low: 60, highWaiting: 0 });
    expect(contended).toBe(0);
    expect(orderHeld(after)).toBe(true);
    // the urgent passes all went in the first round, before any other
    expect(after[0]).toEqual({ high: 40, low: 0, highWaiting: 0 });
    const submitted = sites.reduce((sum, ctx) => sum + (ctx.backend as DryBackend).submitted.length, 0);
    expect(submitted).toBe(100);
  });

  it('a --once run (sharing off) claims the head of the queue, not its share: it will not be back to adopt', async () => {
    const db = await database();
    const [cron] = await sitesOn(db, [30, 30, 30, 30]);
    if (cron === undefined) throw new Error('no site');
    const stats = await runCycle(cron, { submit: true, monitor: false, share: false });
    expect(stats.claimed).toBe(30);
    const claimed = (await jobs(db)).flatMap((doc) => doc.passes).filter((pass) => pass.site === cron.site.name);
    expect(claimed.every((pass) => pass.priority === 10)).toBe(true);
  });

  it('leave no lower-priority pass claimed while a full site holds up its share of the higher ones', async () => {
    const db = await database();
    // site d has no room: its share of the urgent passes waits for the next site in line to adopt it
    const sites = await sitesOn(db, [30, 30, 30, 0]);
    const { after } = await claimRounds(db, sites, 5);
    expect(after.at(-1)).toEqual({ high: 40, low: 60, highWaiting: 0 });
    expect(orderHeld(after)).toBe(true);
    // in the first round the others took their shares and stopped; in the second, the next in line took d's
    expect(after[0]?.low).toBe(0);
    expect(after[0]?.highWaiting).toBeGreaterThan(0);
    expect(after[1]?.highWaiting).toBe(0);
  });
});

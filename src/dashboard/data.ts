import { readPolicies } from '../passes/store.js';
import type { Mode } from '../config/config.js';
import { ServerClock } from '../db/clock.js';
import { siteBeats } from '../coordination/sites.js';
import type { Database } from '../db/database.js';
import { groupedRows } from '../db/tally.js';
import { readQuarantines } from '../passes/store.js';
import { LEADER_ID, type LeaderDoc, type ProxyStatus } from '../model/coordination.js';
import { queueHeadReasons } from '../shifter/why.js';
import type { SummaryKey, Sums } from '../shifter/summary.js';
import { lastNotifications, type LastNotification } from '../shifter/notifications.js';

/** Counts per status, and how much was asked and made. */
export interface Tally {
  passes: number;
  byStatus: Record<string, number>;
  events: { requested: number; produced: number };
  liveSeconds: { requested: number; produced: number };
}

/** Everything the dashboard shows of one database, from reduce views (or their tallies) and a few small documents: never a scan. */
export interface Overview {
  database: string;
  mode: Mode;
  generated: string;
  totals: Tally;
  labels: Array<Tally & { label: string; paused: { since: string; reason: string; by: string } | null }>;
  modules: Array<Tally & { module: string }>;
  /** Completed passes per hour ("2026-11-23T17"), oldest first, the last HOURS hours. */
  throughput: Array<{ hour: string; completed: number }>;
  failures: Array<{ site: string; exitCode: string; passes: number }>;
  sites: Array<{
    site: string;
    mode: string;
    state: string;
    heartbeatAgeSeconds: number;
    leads: boolean;
    held: number;
    quarantined: string | null;
    /** Its grid proxy as its client last read it; null: it needs none. */
    proxy: ProxyStatus | null;
  }>;
  /** The commonest reasons ready passes at the head of the queue wait, as `gasp why` gives them. */
  waiting: { global: string[]; reasons: Array<{ reason: string; passes: number }>; judged: number };
  /** The last notification about each label and each site (`[notify]`). */
  notifications: LastNotification[];
}

const HOURS = 72;
/** Ready passes judged for the "why waiting" table: the head of the queue. */
const JUDGED = 100;

const emptyTally = (): Tally => ({
  passes: 0,
  byStatus: {},
  events: { requested: 0, produced: 0 },
  liveSeconds: { requested: 0, produced: 0 },
});

function tallyOf(tallies: Map<string, Tally>, name: string): Tally {
  const found = tallies.get(name);
  if (found !== undefined) return found;
  const tally = emptyTally();
  tallies.set(name, tally);
  return tally;
}

function add(tally: Tally, status: string, sums: Sums): void {
  tally.passes += sums[0];
  tally.byStatus[status] = (tally.byStatus[status] ?? 0) + sums[0];
  tally.events.requested += sums[1];
  tally.events.produced += sums[2];
  tally.liveSeconds.requested += sums[3];
  tally.liveSeconds.produced += sums[4];
}

/** The hours from `HOURS` ago to now, each with its count (0 where none ended). */
function hourly(rows: ReadonlyArray<{ key: string; value: number }>, now: Date): Overview['throughput'] {
  const counts = new Map(rows.map((row) => [row.key, row.value]));
  const hours: Overview['throughput'] = [];
  for (let back = HOURS - 1; back >= 0; back--) {
    const hour = new Date(now.getTime() - back * 3_600_000).toISOString().slice(0, 13);
    hours.push({ hour, completed: counts.get(hour) ?? 0 });
  }
  return hours;
}

export async function overview(db: Database, mode: Mode, staleSeconds: number): Promise<Overview> {
  const clock = new ServerClock(db.couch);
  await clock.sync();
  const [summary, completed, failed, policies, beats, leader, held, quarantines, waiting, notifications] =
    await Promise.all([
      groupedRows<SummaryKey, Sums>(db, 'summary', 'passes'),
      groupedRows<string, number>(db, 'summary', 'completed_by_hour'),
      groupedRows<[string, string, string], number>(db, 'summary', 'failures'),
      readPolicies(db),
      siteBeats(db, clock, staleSeconds),
      db.find<LeaderDoc>(LEADER_ID),
      db.view<[string], number>('sites', 'held', { group_level: 1 }),
      readQuarantines(db),
      queueHeadReasons(db, mode, staleSeconds, JUDGED),
      lastNotifications(db),
    ]);
  const totals = emptyTally();
  const labels = new Map<string, Tally>();
  const modules = new Map<string, Tally>();
  // a pass of several labels (GASP's) is in a "label" row of each, but in one "module" row: totals
  // and modules count those
  for (const { key, value } of summary) {
    const [kind, first, , status] = key;
    if (kind === 'label') add(tallyOf(labels, first), status, value);
    if (kind !== 'module') continue;
    add(totals, status, value);
    add(tallyOf(modules, first), status, value);
  }
  const failures = new Map<string, Overview['failures'][number]>();
  for (const { key, value } of failed) {
    const [site, exitCode] = key;
    const entry = failures.get(`${site}\u0000${exitCode}`) ?? { site, exitCode, passes: 0 };
    entry.passes += value;
    failures.set(`${site}\u0000${exitCode}`, entry);
  }
  const holding = new Map(held.rows.map((row) => [row.key[0], row.value]));
  return {
    database: db.name,
    mode,
    generated: clock.now().toISOString(),
    totals,
    labels: [...labels]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([label, tally]) => ({ label, ...tally, paused: policies.get(label)?.paused ?? null })),
    modules: [...modules].sort(([a], [b]) => a.localeCompare(b)).map(([module, tally]) => ({ module, ...tally })),
    throughput: hourly(completed, clock.now()),
    failures: [...failures.values()].sort(
      (a, b) => a.site.localeCompare(b.site) || a.exitCode.localeCompare(b.exitCode),
    ),
    sites: beats
      .map((beat) => {
        const quarantine = quarantines.get(beat.doc.site);
        return {
          site: beat.doc.site,
          mode: beat.doc.mode,
          state: beat.state,
          heartbeatAgeSeconds: Math.round(beat.age),
          leads: leader?.site === beat.doc.site,
          held: holding.get(beat.doc.site) ?? 0,
          quarantined: quarantine === undefined ? null : `since ${quarantine.since}: ${quarantine.reason}`,
          proxy: beat.doc.proxy ?? null,
        };
      })
      .sort((a, b) => a.site.localeCompare(b.site) || a.mode.localeCompare(b.mode)),
    waiting,
    notifications,
  };
}

import type { Database } from '../db/database.js';
import { globToRegExp } from '../glob.js';

/** The summed value of summary/passes, element by element. */
type Sums = [passes: number, eventsAsked: number, eventsDone: number, secondsAsked: number, secondsDone: number, runSeconds: number, runSquares: number, timed: number];

export interface Summary {
  /** What was summarised: `label L` or `module GLOB`. */
  scope: string;
  passes: number;
  byStatus: Record<string, number>;
  byModule: Record<string, Record<string, number>>;
  bySite: Record<string, Record<string, number>>;
  /** Completed over ended (completed, failed, partFail); null before any ended. */
  successRate: number | null;
  events: { requested: number; produced: number };
  liveSeconds: { requested: number; produced: number };
  /** Wall time of each ended pass's last attempt. */
  runSeconds: { mean: number; spread: number; passes: number } | null;
}

const ENDED = ['completed', 'failed', 'partFail'];


/**
 * A campaign's summary from the reduce views, never a scan of documents: one grouped read of the
 * label's range (or of the modules matching a glob's literal head), so it answers at once at any size.
 */
export async function summarize(db: Database, scope: { label: string } | { module: string }): Promise<Summary> {
  const byLabel = 'label' in scope;
  const prefix = byLabel ? scope.label : (scope.module.split(/[*?]/)[0] ?? '');
  const kind = byLabel ? 'label' : 'module';
  const range = byLabel ? { startkey: [kind, prefix], endkey: [kind, prefix, {}] } : { startkey: [kind, prefix], endkey: [kind, `${prefix}\ufff0`, {}] };
  const rows = await db.view<[string, string, string, string, string], Sums>('summary', 'passes', { ...range, group: true });
  const matches = byLabel ? () => true : (module: string) => globToRegExp(scope.module).test(module);
  const total: Sums = [0, 0, 0, 0, 0, 0, 0, 0];
  const summary: Summary = { scope: byLabel ? `label ${scope.label}` : `module ${scope.module}`, passes: 0, byStatus: {}, byModule: {}, bySite: {}, successRate: null, events: { requested: 0, produced: 0 }, liveSeconds: { requested: 0, produced: 0 }, runSeconds: null };
  let ended = 0;
  for (const { key, value } of rows.rows) {
    const [, first, second, status, site] = key;
    const module = byLabel ? second : first;
    if (!matches(module)) continue;
    value.forEach((number, index) => (total[index] = (total[index] ?? 0) + number));
    const count = value[0];
    summary.byStatus[status] = (summary.byStatus[status] ?? 0) + count;
    const perModule = (summary.byModule[module] ??= {});
    perModule[status] = (perModule[status] ?? 0) + count;
    const perSite = (summary.bySite[site] ??= {});
    perSite[status] = (perSite[status] ?? 0) + count;
    if (ENDED.includes(status)) ended += count;
  }
  const [passes, eventsAsked, eventsDone, secondsAsked, secondsDone, runSeconds, runSquares, timed] = total;
  summary.passes = passes;
  summary.successRate = ended === 0 ? null : (summary.byStatus.completed ?? 0) / ended;
  summary.events = { requested: eventsAsked, produced: eventsDone };
  summary.liveSeconds = { requested: secondsAsked, produced: secondsDone };
  if (timed > 0) {
    const mean = runSeconds / timed;
    summary.runSeconds = { mean, spread: Math.sqrt(Math.max(0, runSquares / timed - mean * mean)), passes: timed };
  }
  return summary;
}

import type { Database } from '../db/database.js';
import { readQuarantines } from '../passes/store.js';
import { groupedRows } from '../db/tally.js';
import { globToRegExp } from '../glob.js';

/** The summed value of summary/passes, element by element. */
export type Sums = [
  passes: number,
  eventsAsked: number,
  eventsDone: number,
  secondsAsked: number,
  secondsDone: number,
  runSeconds: number,
  runSquares: number,
  timed: number,
];

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
  /** Run time of each ended pass: its jobs' own (the wrapper's start to end) where they recorded it, else its last attempt's. */
  runSeconds: { mean: number; spread: number; passes: number } | null;
  /** Sites of this summary that quarantined themselves, with why. */
  quarantined: Record<string, string>;
}

const ENDED = ['completed', 'failed', 'partFail'];

export type SummaryKey = [kind: string, first: string, second: string, status: string, site: string, rat: string];

export type SummaryScope = ({ label: string } | { module: string }) & { rat?: string };

/** The label's range of summary/passes, or the modules matching a glob's literal head (for the view; the tally has every row). */
function rangeOf(scope: SummaryScope): { startkey: unknown; endkey: unknown } {
  if ('label' in scope) return { startkey: ['label', scope.label], endkey: ['label', scope.label, {}] };
  const prefix = scope.module.split(/[*?]/)[0] ?? '';
  return { startkey: ['module', prefix], endkey: ['module', `${prefix}\ufff0`, {}] };
}

/** Every label some pass has, from the label rows of summary/passes (or its tally): a few rows, no job document read. */
export async function knownLabels(db: Database): Promise<string[]> {
  const rows = await groupedRows<SummaryKey, Sums>(db, 'summary', 'passes', {
    startkey: ['label'],
    endkey: ['label', {}],
  });
  return [...new Set(rows.flatMap(({ key }) => (key[0] === 'label' ? [key[1]] : [])))].sort();
}

/** A campaign's summary from the reduce view (or its tally), never a scan of documents. */
export async function summarize(db: Database, scope: SummaryScope): Promise<Summary> {
  const byLabel = 'label' in scope;
  const pattern = byLabel ? undefined : globToRegExp(scope.module);
  const wanted = ([kind, first, , , , rat]: SummaryKey) =>
    kind === (byLabel ? 'label' : 'module') &&
    (byLabel ? first === scope.label : (pattern?.test(first) ?? false)) &&
    (scope.rat === undefined || rat === scope.rat);
  const [all, quarantines] = await Promise.all([
    groupedRows<SummaryKey, Sums>(db, 'summary', 'passes', rangeOf(scope)),
    readQuarantines(db),
  ]);
  const rows = all.filter((row) => wanted(row.key));
  const total: Sums = [0, 0, 0, 0, 0, 0, 0, 0];
  const scopeName =
    (byLabel ? `label ${scope.label}` : `module ${scope.module}`) +
    (scope.rat === undefined ? '' : `, RAT ${scope.rat}`);
  const summary: Summary = {
    scope: scopeName,
    passes: 0,
    byStatus: {},
    byModule: {},
    bySite: {},
    successRate: null,
    events: { requested: 0, produced: 0 },
    liveSeconds: { requested: 0, produced: 0 },
    runSeconds: null,
    quarantined: {},
  };
  let ended = 0;
  for (const { key, value } of rows) {
    const [, first, second, status, site] = key;
    const module = byLabel ? second : first;
    value.forEach((number, index) => (total[index] = (total[index] ?? 0) + number));
    const count = value[0];
    summary.byStatus[status] = (summary.byStatus[status] ?? 0) + count;
    const perModule = (summary.byModule[module] ??= {});
    perModule[status] = (perModule[status] ?? 0) + count;
    const perSite = (summary.bySite[site] ??= {});
    perSite[status] = (perSite[status] ?? 0) + count;
    if (ENDED.includes(status)) ended += count;
  }
  for (const [site, quarantine] of quarantines)
    if (site in summary.bySite) summary.quarantined[site] = `since ${quarantine.since}: ${quarantine.reason}`;
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

import type { Mode } from '../config/config.js';
import { ServerClock } from '../coordination/clock.js';
import { readQuarantines } from '../client/health.js';
import { prerequisiteStatuses } from '../client/prerequisites.js';
import type { QuarantineDoc } from '../model/health.js';
import { siteBeats, type SiteBeat } from '../coordination/sites.js';
import type { Database } from '../db/database.js';
import { LEADER_ID, type LeaderDoc } from '../model/coordination.js';
import type { PassRef } from '../model/documents.js';
import { policyId, type PolicyDoc } from '../model/policy.js';
import type { PassStatus } from '../model/status.js';
import { blocker, type ReadyPass } from '../queue/decide.js';
import { selectPasses, type Selection } from './selection.js';

export interface WhyRow {
  module: string;
  run: number;
  pass: number;
  label: string;
  /** One reason per active site, or one for all of them, as a shifter reads it. */
  reasons: string[];
}

export interface WhyAnswer {
  /** Said once for every pass: no client runs, or the index lags. */
  global: string[];
  rows: WhyRow[];
  /** Passes a site holds (submitted or running there): whether that site is alive to run them. */
  held: Array<Omit<WhyRow, 'reasons'> & { site: string; reason: string }>;
}

const INDEX_CHECKS = 20;

const refText = (ref: PassRef) => `${ref.module} run ${ref.run} pass ${ref.pass}`;

/**
 * For each waiting pass the selection names, why no site takes it, judged for every active site
 * of the mode with the client's own rules (`queue/decide.ts` `blocker`), from what each site's
 * heartbeat says it can run, how full it is, and who leads when submission is serialized.
 */
export async function whyWaiting(db: Database, mode: Mode, selection: Selection, staleSeconds: number): Promise<WhyAnswer> {
  const clock = new ServerClock(db.couch);
  await clock.sync();
  const [beats, leader, heldCounts, selected, quarantines] = await Promise.all([
    siteBeats(db, clock, staleSeconds),
    db.find<LeaderDoc>(LEADER_ID),
    db.view<[string], number>('sites', 'held', { group_level: 1 }),
    selectPasses(db, { ...selection, statuses: ['waiting', 'submitted', 'running'] }),
    readQuarantines(db),
  ]);
  const held = selected.filter(({ pass }) => pass.status !== 'waiting').map(({ doc, pass }) => {
    const site = pass.site ?? '?';
    const beat = beats.find((candidate) => candidate.doc.site === site && candidate.doc.mode === mode);
    const lease = pass.claim === undefined ? '' : `; its claim's lease ends ${pass.claim.lease_until}, then any site takes it again`;
    const reason =
      beat?.state === 'active'
        ? `held by ${site}, whose client is alive (heartbeat ${Math.round(beat.age)} s ago): it is ${pass.status} there`
        : `held by ${site}, whose client is ${beat === undefined ? 'not known' : `${beat.state} (heartbeat ${Math.round(beat.age)} s ago)`}${lease}; gasp unlock ${site} releases it now`;
    return { module: doc.module, run: doc.run, pass: pass.pass, label: pass.label, site, reason };
  });
  const holding = new Map(heldCounts.rows.map((row) => [row.key[0], row.value]));
  const ofMode = beats.filter((beat) => beat.doc.mode === mode);
  const active = ofMode.filter((beat) => beat.state === 'active');
  const global: string[] = [];
  if (active.length === 0) {
    const last = ofMode.map((beat) => `${beat.doc.site} ${beat.state} ${Math.round(beat.age)} s ago`).join(', ');
    global.push(`no gasp enqueue for ${mode} is running at any site${last === '' ? '' : ` (last heartbeats: ${last})`}`);
  }
  // a label paused by policy is left by every site: said once, not per site
  const waiting = selected.filter(({ pass }) => pass.status === 'waiting');
  for (const label of new Set(waiting.map(({ pass }) => pass.label))) {
    const policy = await db.find<PolicyDoc>(policyId(label));
    if (policy?.paused !== undefined) global.push(`label ${label} is paused since ${policy.paused.since} (${policy.paused.by}): ${policy.paused.reason}; gasp resume --label ${label}`);
  }
  const statusOf = await prerequisiteStatuses(db, waiting.flatMap(({ pass }) => pass.prerequisites ?? []));
  const rows: WhyRow[] = [];
  let unindexed = 0;
  for (const [index, { doc, pass }] of waiting.entries()) {
    const ready: ReadyPass = { module: doc.module, run: doc.run, pass: pass.pass, rat_version: pass.rat_version, label: pass.label, priority: pass.priority, created: pass.created, prerequisites: pass.prerequisites ?? [] };
    // the index is asked about the first passes only: one request each
    if (index < INDEX_CHECKS && !(await inReadyView(db, ready))) unindexed += 1;
    rows.push({ module: doc.module, run: doc.run, pass: pass.pass, label: pass.label, reasons: active.map((beat) => `${beat.doc.site}: ${reasonAt(beat, ready, statusOf, holding.get(beat.doc.site) ?? 0, leader, quarantines.get(beat.doc.site))}`) });
  }
  if (unindexed > 0) global.push(`${unindexed} of the first ${Math.min(INDEX_CHECKS, waiting.length)} passes are not in passes/ready_priority yet: the view index is behind (a large submit being indexed), or the views were never pushed (gasp views push)`);
  return { global, rows, held };
}

function reasonAt(beat: SiteBeat, pass: ReadyPass, statusOf: (ref: PassRef) => PassStatus | undefined, held: number, leader: LeaderDoc | undefined, quarantine: QuarantineDoc | undefined): string {
  const can = beat.doc.capabilities;
  if (can === undefined) return 'its client is older and does not say what it can run';
  if (!can.claims) return 'it only monitors (--mononly)';
  if (quarantine !== undefined) return `quarantined since ${quarantine.since}: ${quarantine.reason}; gasp resume --site ${quarantine.site}`;
  const site = { mode: beat.doc.mode as Mode, modes: can.modes as Mode[], ratVersions: new Set(can.rat_versions), pausedLabels: new Set(can.paused_labels) };
  const blocked = blocker(pass, site, statusOf);
  switch (blocked?.kind) {
    case 'mode':
      return `it does not run ${beat.doc.mode}`;
    case 'ratVersion':
      return `no RAT ${pass.rat_version} there (it has ${can.rat_versions.join(', ') || 'none'})`;
    case 'paused':
      return `label ${pass.label} is paused there (--pause)`;
    case 'unsatisfied':
      return `its prerequisite ${refText(blocked.because)} failed: the pass becomes unsatisfied at the next cycle`;
    case 'prerequisite':
      return `waits for its prerequisite ${refText(blocked.waitingFor)} (${statusOf(blocked.waitingFor) ?? 'missing'})`;
    case undefined:
      break;
  }
  if (held >= can.max_jobs) return `site full (${held} of ${can.max_jobs} jobs)`;
  if (beat.doc.takes_turns && leader !== undefined && leader.site !== beat.doc.site) return `not its turn: submission is serialized and ${leader.site} leads`;
  return 'it can take it: at its next cycle, once the passes ahead of it in the queue are claimed';
}


/** Whether the ready view shows the pass (stale=ok: this asks what the clients see now, without building the index). */
async function inReadyView(db: Database, pass: ReadyPass): Promise<boolean> {
  const key = [-pass.priority, pass.created, pass.run, pass.module, pass.pass];
  const rows = await db.view('passes', 'ready_priority', { key, update: 'false' });
  return rows.rows.length > 0;
}

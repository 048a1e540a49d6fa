import type { Mode } from '../config/config.js';
import { readPolicies } from '../passes/store.js';
import { prerequisiteStatuses } from '../passes/prerequisites.js';
import type { QuarantineDoc } from '../model/health.js';
import { readSites, type SitesNow } from '../coordination/status.js';
import type { SiteBeat } from '../coordination/sites.js';
import { seqNumber, type Database } from '../db/database.js';
import { proxyAllowsClaims, proxyBlocks, type LeaderDoc } from '../model/coordination.js';
import type { JobDoc, Pass, PassRef } from '../model/documents.js';
import { OLD_CLIENT_STATUSES, type PassStatus } from '../model/status.js';
import { blocker } from '../queue/decide.js';
import type { ReadyPass } from '../model/documents.js';
import { plural } from '../words.js';
import { selectPasses, type Selection } from './selection.js';
import { labelsOf, labelText } from '../model/label.js';
import { lastNotifications, type LastNotification } from './notifications.js';

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
  /** Passes that ran or were stopped (asked for by MODULE RUN): how they ended, and why. */
  ended: Array<Omit<WhyRow, 'reasons'> & { status: PassStatus; reason: string }>;
  /** The last notification about each label of these passes and each site of the mode (`[notify]`). */
  notifications: LastNotification[];
}

const INDEX_CHECKS = 20;

const refText = (ref: PassRef) => `${ref.module} run ${ref.run} pass ${ref.pass}`;

/** What every judgement reads once: who runs, who leads, how full each site is, who is quarantined. */
interface Sites extends SitesNow {
  active: SiteBeat[];
}

/**
 * Why no site takes these waiting passes, judged for every active site of the mode with the
 * client's own rules (`queue/decide.ts` `blocker`), from what each site's heartbeat says it can
 * run, how full it is, and who leads when submission is serialized.
 */
async function judge(
  db: Database,
  mode: Mode,
  sites: Omit<Sites, 'active'>,
  waiting: readonly ReadyPass[],
): Promise<{ global: string[]; rows: WhyRow[] }> {
  const ofMode = sites.beats.filter((beat) => beat.doc.mode === mode);
  const active = ofMode.filter((beat) => beat.state === 'active');
  const global: string[] = [];
  if (active.length === 0) {
    const last = ofMode.map((beat) => `${beat.doc.site} ${beat.state} ${Math.round(beat.age)} s ago`).join(', ');
    global.push(
      `no gasp enqueue for ${mode} is running at any site${last === '' ? '' : ` (last heartbeats: ${last})`}`,
    );
  }
  // a label paused by policy is left by every site: why is said once, in full
  const paused = new Set<string>();
  const policies = await readPolicies(db);
  for (const label of new Set(waiting.flatMap((pass) => labelsOf(pass.label)))) {
    const stop = policies.get(label)?.paused;
    if (stop === undefined) continue;
    paused.add(label);
    global.push(
      `label ${label} is paused since ${stop.since} (${stop.by}): ${stop.reason}; gasp resume --label ${label}`,
    );
  }
  const statusOf = await prerequisiteStatuses(
    db,
    waiting.flatMap((pass) => pass.prerequisites ?? []),
  );
  const rows = waiting.map((ready) => ({
    module: ready.module,
    run: ready.run,
    pass: ready.pass,
    label: labelText(ready.label),
    reasons: active.map(
      (beat) =>
        `${beat.doc.site}: ${reasonAt(beat, ready, statusOf, sites.holding.get(beat.doc.site) ?? 0, sites.leader, sites.quarantines.get(beat.doc.site), paused)}`,
    ),
  }));
  return { global, rows };
}

/** How a pass that is no longer waiting or held ended, from its last attempt: where, its exit code, and the reason recorded. */
function endedReason(doc: JobDoc, pass: Pass): string {
  const last = pass.attempts.at(-1);
  const code = last?.exit_code ?? pass.subjobs?.find((subjob) => subjob.state === 'failed')?.exit_code;
  const where = last === undefined ? '' : ` at ${last.site}${last.finished === undefined ? '' : ` (${last.finished})`}`;
  const exit = code === undefined || code === 0 ? undefined : `exit code ${code}`;
  const why = [
    ...(exit === undefined ? [] : [exit]),
    ...(last?.reason === undefined || last.reason === exit ? [] : [last.reason]),
  ].join(': ');
  const again = `gasp retry --module ${doc.module} --run ${doc.run} --pass ${pass.pass} --yes puts it back to waiting`;
  if (pass.status === 'failed' || pass.status === 'partFail')
    return `${pass.status === 'failed' ? 'failed' : 'partly failed'}${where}${why === '' ? '' : `: ${why}`}; ${again}`;
  if (pass.status === 'completed') return `completed${where}: it ran (gasp show ${doc.module} ${doc.run} ${pass.pass})`;
  if (pass.status === 'unsatisfied')
    return 'unsatisfied: a prerequisite failed, so it never runs (retry the prerequisite, then this one)';
  const old = OLD_CLIENT_STATUSES[pass.status];
  if (old !== undefined)
    return `${pass.status}: ${old}${where}; gasp never runs a pass in this status. Once GASP's clients are stopped (gasp switch-over says whether they are), ${again}`;
  return `${pass.status}${where}${why === '' ? '' : `: ${why}`}`;
}

/** Whether the site that holds a pass is alive to run it; a pass GASP's client submitted is its alone. */
function heldReason(pass: Pass, sites: Omit<Sites, 'active'>, mode: Mode): string {
  const site = pass.site ?? '?';
  // gasp writes a claim before any backend call: none means GASP's client submitted it
  if (pass.claim === undefined)
    return `${pass.status} under GASP's client${pass.site === undefined ? '' : ` at ${pass.site}`} (no gasp claim): only that client follows its jobs, so keep gasp_client.py --mononly running until it ends; gasp leaves it alone`;
  const beat = sites.beats.find((candidate) => candidate.doc.site === site && candidate.doc.mode === mode);
  if (beat?.state === 'active')
    return `held by ${site}, whose client is alive (heartbeat ${Math.round(beat.age)} s ago): it is ${pass.status} there`;
  const state = beat === undefined ? 'not known' : `${beat.state} (heartbeat ${Math.round(beat.age)} s ago)`;
  return `held by ${site}, whose client is ${state}; its claim's lease ends ${pass.claim.lease_until}, then any site takes it again; gasp unlock ${site} releases it now`;
}

/** For each pass the selection names: why a waiting one is not taken, whether a held one's site is alive, how an ended one ended. */
export async function whyWaiting(
  db: Database,
  mode: Mode,
  selection: Selection,
  staleSeconds: number,
): Promise<WhyAnswer> {
  const [sites, selected, notified] = await Promise.all([
    readSites(db, staleSeconds),
    selectPasses(db, selection),
    lastNotifications(db),
  ]);
  const about = new Set([
    ...selected.flatMap(({ pass }) => labelsOf(pass.label).map((label) => `label ${label}`)),
    ...sites.beats.filter((beat) => beat.doc.mode === mode).map((beat) => `site ${beat.doc.site}`),
  ]);
  const notifications = notified.filter((last) => about.has(last.about));
  const ended = selected
    .filter(({ pass }) => pass.status !== 'waiting' && pass.status !== 'submitted' && pass.status !== 'running')
    .map(({ doc, pass }) => ({
      module: doc.module,
      run: doc.run,
      pass: pass.pass,
      label: labelText(pass.label),
      status: pass.status,
      reason: endedReason(doc, pass),
    }));
  const held = selected
    .filter(({ pass }) => pass.status === 'submitted' || pass.status === 'running')
    .map(({ doc, pass }) => ({
      module: doc.module,
      run: doc.run,
      pass: pass.pass,
      label: labelText(pass.label),
      site: pass.site ?? '?',
      reason: heldReason(pass, sites, mode),
    }));
  const waiting = selected
    .filter(({ pass }) => pass.status === 'waiting')
    .map(({ doc, pass }): ReadyPass => ({
      module: doc.module,
      run: doc.run,
      pass: pass.pass,
      rat_version: pass.rat_version,
      label: pass.label,
      priority: pass.priority,
      created: pass.created,
      prerequisites: pass.prerequisites ?? [],
    }));
  // judged only when some wait: whether any client runs is said of held passes by their own lines
  const { global, rows } = waiting.length === 0 ? { global: [], rows: [] } : await judge(db, mode, sites, waiting);
  const index = await readyIndexNote(db, waiting);
  if (index !== undefined) global.push(index);
  return { global, rows, held, ended, notifications };
}

/**
 * Whether waiting passes are missing from the ready view sites read, and why: an index that has
 * not yet seen the latest writes (a fresh submit, before any client's query builds it) is normal;
 * one that has seen every change and still leaves them out means their documents are not as the
 * view expects. Only the first passes are asked about, one request each.
 */
async function readyIndexNote(db: Database, waiting: readonly ReadyPass[]): Promise<string | undefined> {
  if (waiting.length === 0) return undefined;
  // read after the passes and before asking about them: an index that has seen `latest` holds every pass read
  const [view, info] = await Promise.all([
    db.view('passes', 'ready_priority', { limit: 0, update: 'false', update_seq: true }),
    db.info(),
  ]);
  const [seen, latest] = [seqNumber(view.update_seq), seqNumber(info.update_seq)];
  let unindexed = 0;
  for (const ready of waiting.slice(0, INDEX_CHECKS)) if (!(await inReadyView(db, ready))) unindexed += 1;
  if (unindexed === 0) return undefined;
  const some = `${unindexed} of ${plural(Math.min(INDEX_CHECKS, waiting.length), 'waiting pass', 'waiting passes')} asked about ${unindexed === 1 ? 'is' : 'are'}`;
  if (seen === undefined || latest === undefined)
    return `${some} not in passes/ready_priority yet: its index may be behind the latest writes (a large submit being indexed)`;
  if (seen < latest)
    return `${some} not in passes/ready_priority yet only because its index is behind (it has seen ${seen} of ${latest} changes, such as a fresh submit): sites see them once it is built, which their next query does`;
  return `${some} not in passes/ready_priority although its index has seen every change: no site will see them as they are (gasp show MODULE RUN shows their documents)`;
}

/**
 * The commonest reasons at the head of the queue: the first `limit` ready passes (those sites would
 * take next), judged as `why` judges them, each reason counted over the passes it holds back.
 */
export async function queueHeadReasons(
  db: Database,
  mode: Mode,
  staleSeconds: number,
  limit: number,
): Promise<{ global: string[]; reasons: Array<{ reason: string; passes: number }>; judged: number }> {
  const [sites, ready] = await Promise.all([
    readSites(db, staleSeconds),
    db.view<unknown, ReadyPass>('passes', 'ready_priority', { limit }),
  ]);
  const { global, rows } = await judge(
    db,
    mode,
    sites,
    ready.rows.map((row) => ({ ...row.value, prerequisites: row.value.prerequisites ?? [] })),
  );
  const counts = new Map<string, number>();
  for (const row of rows) for (const reason of row.reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const reasons = [...counts]
    .map(([reason, passes]) => ({ reason, passes }))
    .sort((a, b) => b.passes - a.passes || a.reason.localeCompare(b.reason));
  return { global, reasons, judged: rows.length };
}

function reasonAt(
  beat: SiteBeat,
  pass: ReadyPass,
  statusOf: (ref: PassRef) => PassStatus | undefined,
  held: number,
  leader: LeaderDoc | undefined,
  quarantine: QuarantineDoc | undefined,
  pausedByPolicy: ReadonlySet<string>,
): string {
  const can = beat.doc.capabilities;
  if (can === undefined) return 'its client is older and does not say what it can run';
  if (!can.claims) return 'it only monitors (--mononly)';
  const proxy = beat.doc.proxy;
  if (proxy !== undefined && !proxyAllowsClaims(proxy)) return proxyBlocks(proxy);
  const pausedLabel = labelsOf(pass.label).find((label) => pausedByPolicy.has(label));
  if (pausedLabel !== undefined) return `label ${pausedLabel} is paused (gasp resume --label ${pausedLabel})`;
  if (quarantine !== undefined)
    return `quarantined since ${quarantine.since}: ${quarantine.reason}; gasp resume --site ${quarantine.site}`;
  const site = {
    mode: beat.doc.mode as Mode,
    modes: can.modes as Mode[],
    ratVersions: new Set(can.rat_versions),
    pausedLabels: new Set(can.paused_labels),
  };
  const blocked = blocker(pass, site, statusOf);
  switch (blocked?.kind) {
    case 'mode':
      return `it does not run ${beat.doc.mode}`;
    case 'ratVersion':
      return `no RAT ${pass.rat_version} there (it has ${can.rat_versions.join(', ') || 'none'})`;
    case 'paused':
      return `label ${labelText(pass.label)} is paused there (--pause)`;
    case 'unsatisfied':
      return `its prerequisite ${refText(blocked.because)} failed: the pass becomes unsatisfied at the next cycle`;
    case 'prerequisite':
      return `waits for its prerequisite ${refText(blocked.waitingFor)} (${statusOf(blocked.waitingFor) ?? 'missing'})`;
    case undefined:
      break;
  }
  if (held >= can.max_jobs) return `site full (${held} of ${can.max_jobs} jobs)`;
  if (beat.doc.takes_turns && leader !== undefined && leader.site !== beat.doc.site)
    return `not its turn: submission is serialized and ${leader.site} leads`;
  return 'it can take it: at its next cycle, once the passes ahead of it in the queue are claimed';
}

/** Whether the ready view shows the pass (stale=ok: this asks what the clients see now, without building the index). */
async function inReadyView(db: Database, pass: ReadyPass): Promise<boolean> {
  const key = [-pass.priority, pass.created, pass.run, pass.module, pass.pass];
  const rows = await db.view('passes', 'ready_priority', { key, update: 'false' });
  return rows.rows.length > 0;
}

import type { QueueOrder } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../log.js';
import type { JobDoc, Pass, PassRef, ReadyPass, Subjob } from '../model/documents.js';
import { isQuarantined, QUARANTINE_PREFIX, type QuarantineDoc } from '../model/health.js';
import { POLICY_PREFIX, type PolicyDoc } from '../model/policy.js';
import type { Outcome } from './transitions.js';

/**
 * The one place passes are read and written: bulk updates with conflict rounds, the held, ready and
 * lease views, and the policy and quarantine documents the client and the shifter tools judge by.
 */

export interface PassChange {
  /** Job document id. */
  id: string;
  pass: number;
  /** The new pass from the stored one; undefined leaves it (the pass moved on meanwhile). */
  apply(pass: Pass, doc: JobDoc): Pass | undefined;
  attachments?: Record<string, { content_type: string; data: string }>;
}

const ROUNDS = 4;

/**
 * Applies changes to passes with bulk writes: documents read fresh, each change applied to the
 * stored pass, conflicts read again and re-applied. Returns the changes that landed. Documents the
 * caller has just written (`known`, with their new `_rev`) are not read again first: if one changed
 * meanwhile, its write conflicts and the next round reads it.
 */
export async function updatePasses(
  ctx: { db: Database; log: Logger },
  changes: readonly PassChange[],
  known?: ReadonlyMap<string, JobDoc>,
): Promise<PassChange[]> {
  const landed: PassChange[] = [];
  let pending = [...changes];
  for (let round = 0; round < ROUNDS && pending.length > 0; round++) {
    const ids = [...new Set(pending.map((change) => change.id))];
    const inHand = round === 0 && known !== undefined ? ids.flatMap((id) => known.get(id) ?? []) : [];
    const held = new Set(inHand.map((doc) => doc._id));
    const toRead = ids.filter((id) => !held.has(id));
    const found =
      toRead.length === 0
        ? []
        : (await ctx.db.allDocs<JobDoc>({ keys: toRead, include_docs: true })).rows.flatMap((row) => row.doc ?? []);
    const docs = new Map<string, { doc: JobDoc; changes: PassChange[] }>();
    for (const doc of [...inHand, ...found])
      docs.set(doc._id, { doc: { ...doc, passes: [...doc.passes] }, changes: [] });
    for (const change of pending) {
      const target = docs.get(change.id);
      if (target === undefined) continue;
      const index = target.doc.passes.findIndex((pass) => pass.pass === change.pass);
      const current = target.doc.passes[index];
      const next = current === undefined ? undefined : change.apply(current, target.doc);
      if (next === undefined) continue;
      target.doc.passes[index] = next;
      if (change.attachments !== undefined)
        target.doc._attachments = { ...target.doc._attachments, ...change.attachments };
      target.changes.push(change);
    }
    const writes = [...docs.values()].filter((target) => target.changes.length > 0);
    const answers = await ctx.db.bulkDocs(writes.map((target) => target.doc));
    pending = [];
    answers.forEach((answer, position) => {
      const target = writes[position];
      if (target === undefined) return;
      if (answer.ok) landed.push(...target.changes);
      else pending.push(...target.changes);
    });
  }
  if (pending.length > 0)
    ctx.log.warn({ passes: pending.length }, 'passes changed by others in every round; trying again next cycle');
  return landed;
}

/** A change of one pass by a transition, re-applied to the stored pass in every conflict round. */
export function transitionChange(
  id: string,
  pass: number,
  transition: (stored: Pass) => Outcome,
  attachments?: PassChange['attachments'],
): PassChange {
  return {
    id,
    pass,
    apply: (stored) => {
      const outcome = transition(stored);
      return outcome.changed ? outcome.pass : undefined;
    },
    ...(attachments !== undefined && { attachments }),
  };
}

/** A pass a site holds, as `passes/locked_by_site` shows it. */
export interface HeldRow {
  /** Job document id. */
  id: string;
  pass: number;
  /** `claimed` until every job of the pass has its backend id. */
  state: 'claimed' | 'submitted' | 'running';
  token: string | null;
  /** When the claim's lease ends. */
  lease: string | null;
  /** A shifter asked to cancel it (`gasp cancel`): the site cancels its jobs. */
  cancel: boolean;
  /** Each job's backend id and last recorded state, in subjob order. */
  jobs: Array<[backendId: string | null, state: Subjob['state'] | null]>;
}

/**
 * What a site holds: one read of its range of `passes/locked_by_site`, shared by monitoring, the
 * job count and the search for unsubmitted claims.
 */
export async function readHeld(db: Database, site: string, limit?: number): Promise<HeldRow[]> {
  const rows = await db.view<
    [string, HeldRow['state'], string, number, number],
    Pick<HeldRow, 'token' | 'lease' | 'jobs' | 'cancel'>
  >('passes', 'locked_by_site', { startkey: [site], endkey: [site, {}], ...(limit !== undefined && { limit }) });
  return rows.rows.flatMap((row) =>
    row.id === undefined ? [] : [{ id: row.id, pass: row.key[4], state: row.key[1], ...row.value }],
  );
}

/** A pass with the job document it is in, as read. */
export interface PassInDoc {
  doc: JobDoc;
  pass: Pass;
}

/** The documents of these passes, read fresh in one request; `keep` chooses the passes wanted of each. */
export async function readPasses(
  db: Database,
  ids: Iterable<string>,
  keep: (pass: Pass, doc: JobDoc) => boolean,
): Promise<PassInDoc[]> {
  const keys = [...new Set(ids)];
  if (keys.length === 0) return [];
  const found = await db.allDocs<JobDoc>({ keys, include_docs: true });
  return found.rows.flatMap((row) => {
    const doc = row.doc;
    return doc ? doc.passes.filter((pass) => keep(pass, doc)).map((pass) => ({ doc, pass })) : [];
  });
}

/** The ready view of each queue order (newfirst reads `ready_run` backwards). */
export const READY_VIEW = {
  priority: 'ready_priority',
  runlevel: 'ready_run',
  newfirst: 'ready_run',
  serial: 'ready_created',
} as const;

type ReadyRow = Omit<ReadyPass, 'prerequisites'> & { prerequisites: PassRef[] | null };

/** One page of the ready passes in a queue order, read fresh. */
export async function readReady(db: Database, queue: QueueOrder, limit: number, skip = 0): Promise<ReadyPass[]> {
  const rows = await db.view<unknown, ReadyRow>('passes', READY_VIEW[queue], {
    descending: queue === 'newfirst',
    limit,
    skip,
  });
  return rows.rows.map(({ value }) => ({ ...value, prerequisites: value.prerequisites ?? [] }));
}

/** Held passes whose lease ended before `now`, with their site: one short range read however many are held. */
export async function readExpiredLeases(
  db: Database,
  now: Date,
): Promise<Array<{ id: string; site: string; pass: number }>> {
  const rows = await db.view<string, [string, number]>('passes', 'leases', {
    endkey: now.toISOString(),
    inclusive_end: false,
  });
  return rows.rows.flatMap((row) =>
    row.id === undefined ? [] : [{ id: row.id, site: row.value[0], pass: row.value[1] }],
  );
}

/** Every label's failure policy, by label: one read per cycle. */
export async function readPolicies(db: Database): Promise<Map<string, PolicyDoc>> {
  const rows = await db.allDocs<PolicyDoc>({
    startkey: POLICY_PREFIX,
    endkey: `${POLICY_PREFIX}\ufff0`,
    include_docs: true,
  });
  return new Map(rows.rows.flatMap((row) => (row.doc?.type === 'policy' ? [[row.doc.label, row.doc] as const] : [])));
}

/** Labels paused now (by auto-pause or by hand): no site claims their passes. */
export const pausedIn = (policies: ReadonlyMap<string, PolicyDoc>) =>
  new Set([...policies.values()].flatMap((policy) => (policy.paused !== undefined ? [policy.label] : [])));

/** Every site quarantined now, by name. */
export async function readQuarantines(db: Database): Promise<Map<string, QuarantineDoc>> {
  const rows = await db.allDocs<QuarantineDoc>({
    startkey: QUARANTINE_PREFIX,
    endkey: `${QUARANTINE_PREFIX}\ufff0`,
    include_docs: true,
  });
  return new Map(
    rows.rows.flatMap((row) =>
      row.doc?.type === 'quarantine' && isQuarantined(row.doc) ? [[row.doc.site, row.doc] as const] : [],
    ),
  );
}

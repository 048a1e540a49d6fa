import type { JobDoc, Pass, Subjob } from '../model/documents.js';
import type { ClientContext } from './context.js';

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
  ctx: Pick<ClientContext, 'db' | 'log'>,
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

/** A subjob as it was before any attempt: its index and what it reads or makes, nothing of a run. */
export function freshSubjob({ index, events, file }: Subjob): Subjob {
  return { index, ...(events !== undefined && { events }), ...(file !== undefined && { file }) };
}

/**
 * The pass back to waiting, for any site to take, with the attempt that held it closed (as lost,
 * or as failed when resubmitted by its label's policy) and why. Its history (attempts) stays.
 */
export function backToWaiting(
  stored: Pass,
  token: string | undefined,
  finished: string,
  reason: string,
  ended: 'lost' | 'failed' | 'partFail' = 'lost',
  exitCode?: number,
): Pass {
  const { site: _site, claim: _claim, ...rest } = stored;
  return {
    ...rest,
    status: 'waiting',
    ...(stored.subjobs !== undefined && { subjobs: stored.subjobs.map(freshSubjob) }),
    attempts: stored.attempts.map((attempt) =>
      attempt.token === token
        ? { ...attempt, status: ended, finished, reason, ...(exitCode !== undefined && { exit_code: exitCode }) }
        : attempt,
    ),
  };
}

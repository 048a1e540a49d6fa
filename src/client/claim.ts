import { randomUUID } from 'node:crypto';
import type { JobDoc, Pass, ReadyPass } from '../model/documents.js';
import { jobId, malformedPass } from '../model/documents.js';
import { claim } from '../passes/transitions.js';
import { memoryOf, type ClientContext, type CycleStats } from './context.js';

export interface ClaimedPass {
  doc: JobDoc;
  pass: Pass;
  /** Claimed in an earlier cycle (or by a client that died): its jobs may have reached the backend already. */
  earlier?: boolean;
}

/** A document someone wrote by hand or an older tool left: named once per revision, never the cycle's end. */
function malformed(ctx: ClientContext, doc: JobDoc, pass: number): boolean {
  const problem = Array.isArray(doc.passes)
    ? malformedPass(doc.passes.find((candidate) => candidate?.pass === pass))
    : 'passes is not a list';
  if (problem === undefined) return false;
  const seen = `${ctx.db.name}/${doc._id}/${doc._rev ?? ''}`;
  if (!memoryOf(ctx).reported.has(seen))
    ctx.log.warn({ id: doc._id }, `skipped malformed job document ${doc._id}: ${problem}`);
  memoryOf(ctx).reported.add(seen);
  return true;
}

/**
 * Claims passes in one `_bulk_docs`: status submitted, this site's lock, a claim token and a lease,
 * and a new attempt. CouchDB's `_rev` decides races: a conflicting row belongs to another site.
 * Passes another site took first (seen taken when read, or a conflicting row) count in `contended`.
 */
export async function claimPasses(
  ctx: ClientContext,
  chosen: readonly ReadyPass[],
  stats?: Pick<CycleStats, 'contended'>,
  /** Serialized submission: whether the site still holds the lead, asked right before the write. */
  fence?: () => Promise<boolean>,
): Promise<ClaimedPass[]> {
  if (chosen.length === 0) return [];
  const found = await ctx.db.allDocs<JobDoc>({
    keys: [...new Set(chosen.map((pass) => jobId(pass.module, pass.run)))],
    include_docs: true,
  });
  const docs = new Map(found.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  const now = ctx.now();
  const claimed = new Map<string, { doc: JobDoc; passes: Pass[] }>();
  for (const ready of chosen) {
    const id = jobId(ready.module, ready.run);
    const stored = docs.get(id);
    if (stored === undefined || malformed(ctx, stored, ready.pass)) continue;
    const target = claimed.get(id) ?? { doc: { ...stored, passes: [...stored.passes] }, passes: [] };
    const index = target.doc.passes.findIndex((pass) => pass.pass === ready.pass);
    const pass = target.doc.passes[index];
    // the view may lag: only a pass still waiting and unheld is taken
    const outcome =
      pass === undefined
        ? undefined
        : claim(pass, { site: ctx.site.name, token: randomUUID(), leaseSeconds: ctx.leaseSeconds }, now);
    if (outcome?.changed !== true) {
      if (stats !== undefined && pass !== undefined) stats.contended += 1;
      continue;
    }
    target.doc.passes[index] = outcome.pass;
    target.passes.push(outcome.pass);
    claimed.set(id, target);
  }
  const targets = [...claimed.values()];
  if (targets.length > 0 && fence !== undefined && !(await fence())) return [];
  const answers = await ctx.db.bulkDocs(targets.map((target) => target.doc));
  const won: ClaimedPass[] = [];
  answers.forEach((answer, position) => {
    const target = targets[position];
    if (target === undefined) return;
    if (answer.ok) {
      const doc = { ...target.doc, _rev: answer.rev };
      for (const pass of target.passes) won.push({ doc, pass });
    } else {
      if (stats !== undefined) stats.contended += target.passes.length;
      ctx.log.debug({ id: answer.id, error: answer.error }, 'claim lost to another site');
    }
  });
  return won;
}

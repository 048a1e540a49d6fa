import { randomUUID } from 'node:crypto';
import type { JobDoc, Pass } from '../model/documents.js';
import { jobId, malformedPass, withAttempt } from '../model/documents.js';
import type { ReadyPass } from '../queue/decide.js';
import type { ClientContext } from './context.js';
import { freshSubjob } from './update.js';

export interface ClaimedPass {
  doc: JobDoc;
  pass: Pass;
  /** Claimed in an earlier cycle (or by a client that died): its jobs may have reached the backend already. */
  earlier?: boolean;
}

/** Malformed documents already named in the log (database/id/rev): once each, not every cycle. */
const reported = new Set<string>();

/**
 * Claims passes in one `_bulk_docs`: status submitted, this site's lock, a claim token and a lease,
 * and a new attempt. CouchDB's `_rev` decides races: a conflicting row belongs to another site.
 */
export async function claimPasses(ctx: ClientContext, chosen: readonly ReadyPass[]): Promise<ClaimedPass[]> {
  if (chosen.length === 0) return [];
  const ids = [...new Set(chosen.map((pass) => jobId(pass.module, pass.run)))];
  const found = await ctx.db.allDocs<JobDoc>({ keys: ids, include_docs: true });
  const docs = new Map(found.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  const now = ctx.now();
  const leaseUntil = new Date(now.getTime() + ctx.leaseSeconds * 1000).toISOString();
  const claimed = new Map<string, { doc: JobDoc; passes: Pass[] }>();
  for (const ready of chosen) {
    const id = jobId(ready.module, ready.run);
    const stored = docs.get(id);
    if (stored === undefined) continue;
    // a document someone wrote by hand or an older tool left: skipped and named, never the cycle's end
    const problem = Array.isArray(stored.passes)
      ? malformedPass(stored.passes.find((pass) => pass?.pass === ready.pass))
      : 'passes is not a list';
    if (problem !== undefined) {
      const seen = `${ctx.db.name}/${id}/${stored._rev ?? ''}`;
      if (!reported.has(seen)) ctx.log.warn({ id }, `skipped malformed job document ${id}: ${problem}`);
      reported.add(seen);
      continue;
    }
    const target = claimed.get(id) ?? { doc: { ...stored, passes: [...stored.passes] }, passes: [] };
    const index = target.doc.passes.findIndex((pass) => pass.pass === ready.pass);
    const pass = target.doc.passes[index];
    // the view may lag: only a pass still waiting and unheld is taken
    if (pass === undefined || pass.status !== 'waiting' || pass.site !== undefined) continue;
    const token = randomUUID();
    const taken: Pass = {
      ...pass,
      status: 'submitted',
      site: ctx.site.name,
      claim: { token, at: now.toISOString(), lease_until: leaseUntil },
      ...withAttempt(pass, { site: ctx.site.name, status: 'submitted', started: now.toISOString(), token }),
      ...(pass.subjobs !== undefined && { subjobs: pass.subjobs.map(freshSubjob) }),
    };
    target.doc.passes[index] = taken;
    target.passes.push(taken);
    claimed.set(id, target);
  }
  const targets = [...claimed.values()];
  const answers = await ctx.db.bulkDocs(targets.map((target) => target.doc));
  const won: ClaimedPass[] = [];
  answers.forEach((answer, position) => {
    const target = targets[position];
    if (target === undefined) return;
    if (answer.ok) {
      const doc = { ...target.doc, _rev: answer.rev };
      for (const pass of target.passes) won.push({ doc, pass });
    } else {
      ctx.log.debug({ id: answer.id, error: answer.error }, 'claim lost to another site');
    }
  });
  return won;
}

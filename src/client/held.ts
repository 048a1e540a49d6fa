import type { JobDoc, Subjob } from '../model/documents.js';
import type { ClaimedPass } from './claim.js';
import type { ClientContext } from './context.js';
import { subjobsOf } from './dispatch.js';

/** A pass this site holds, as `passes/locked_by_site` shows it. */
export interface HeldRow {
  /** Job document id. */
  id: string;
  pass: number;
  /** `claimed` until every job of the pass has its backend id. */
  state: 'claimed' | 'submitted' | 'running';
  token: string | null;
  /** When the claim's lease ends. */
  lease: string | null;
  /** A shifter asked to cancel it (`gasp cancel`): this site cancels its jobs. */
  cancel: boolean;
  /** Each job's backend id and last recorded state, in subjob order. */
  jobs: Array<[backendId: string | null, state: Subjob['state'] | null]>;
}

/**
 * What this site holds: one read of its range of `passes/locked_by_site` a cycle, shared by
 * monitoring, the job count and the search for unsubmitted claims.
 */
export async function readHeld(ctx: ClientContext): Promise<HeldRow[]> {
  const rows = await ctx.db.view<
    [string, HeldRow['state'], string, number, number],
    Pick<HeldRow, 'token' | 'lease' | 'jobs' | 'cancel'>
  >('passes', 'locked_by_site', {
    startkey: [ctx.site.name],
    endkey: [ctx.site.name, {}],
  });
  return rows.rows.flatMap((row) =>
    row.id === undefined ? [] : [{ id: row.id, pass: row.key[4], state: row.key[1], ...row.value }],
  );
}

/** Passes this site claimed earlier whose jobs are not all submitted (a backend that did not answer, a client that stopped). */
export async function unsubmitted(ctx: ClientContext, held?: readonly HeldRow[]): Promise<ClaimedPass[]> {
  const rows = (held ?? (await readHeld(ctx))).filter((row) => row.state === 'claimed');
  if (rows.length === 0) return [];
  const found = await ctx.db.allDocs<JobDoc>({ keys: [...new Set(rows.map((row) => row.id))], include_docs: true });
  return found.rows.flatMap((row) =>
    row.doc
      ? row.doc.passes
          .filter(
            (pass) =>
              pass.site === ctx.site.name &&
              pass.status === 'submitted' &&
              subjobsOf(pass).some((subjob) => subjob.backend_id === undefined),
          )
          .map((pass) => ({ doc: row.doc as JobDoc, pass, earlier: true }))
      : [],
  );
}

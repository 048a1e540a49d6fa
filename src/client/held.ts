import { readHeld, readPasses, type HeldRow } from '../passes/store.js';
import { heldByOldClient, subjobsOf } from '../passes/transitions.js';
import type { ClaimedPass } from './claim.js';
import type { ClientContext } from './context.js';

/** Passes this site claimed earlier whose jobs are not all submitted (a backend that did not answer, a client that stopped). */
export async function unsubmitted(ctx: ClientContext, held?: readonly HeldRow[]): Promise<ClaimedPass[]> {
  const rows = (held ?? (await readHeld(ctx.db, ctx.site.name))).filter((row) => row.state === 'claimed');
  const found = await readPasses(
    ctx.db,
    rows.map((row) => row.id),
    (pass) =>
      pass.site === ctx.site.name &&
      pass.status === 'submitted' &&
      // GASP's client's pass, under a site of the same name: it submitted it, gasp never does
      !heldByOldClient(pass) &&
      subjobsOf(pass).some((subjob) => subjob.backend_id === undefined),
  );
  return found.map(({ doc, pass }) => ({ doc, pass, earlier: true }));
}

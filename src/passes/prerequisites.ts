import type { Database } from '../db/database.js';
import { jobId, type JobDoc, type PassRef } from '../model/documents.js';
import type { PassStatus } from '../model/status.js';

/** How each prerequisite pass stands now, read in one request: the client's decisions and `gasp why` use it. */
export async function prerequisiteStatuses(
  db: Database,
  refs: readonly PassRef[],
): Promise<(ref: PassRef) => PassStatus | undefined> {
  if (refs.length === 0) return () => undefined;
  const found = await db.allDocs<JobDoc>({
    keys: [...new Set(refs.map((ref) => jobId(ref.module, ref.run)))],
    include_docs: true,
  });
  const docs = new Map(found.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  return (ref) => docs.get(jobId(ref.module, ref.run))?.passes.find((pass) => pass.pass === ref.pass)?.status;
}

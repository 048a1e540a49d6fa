import type { Database } from '../db/database.js';
import { currentDataDoc, type StoredDataDoc } from '../model/data.js';
import type { DataDoc } from '../model/documents.js';

/** Passes asked about in one request of data/by_pass. */
const PER_REQUEST = 1_000;

/**
 * The data documents of these passes, from data/by_pass: one request per thousand passes, never one
 * per pass. Each in today's form (LFN, replicas), whatever form it was stored in.
 */
export async function dataDocsOf(
  db: Database,
  passes: ReadonlyArray<{ module: string; run: number; pass: number }>,
): Promise<DataDoc[]> {
  const docs: DataDoc[] = [];
  for (let start = 0; start < passes.length; start += PER_REQUEST) {
    const keys = passes.slice(start, start + PER_REQUEST).map(({ module, run, pass }) => [module, run, pass]);
    const rows = await db.view<unknown[], string, StoredDataDoc>('data', 'by_pass', { keys, include_docs: true });
    for (const row of rows.rows) if (row.doc) docs.push(currentDataDoc(row.doc).doc);
  }
  return docs;
}

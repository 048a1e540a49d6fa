import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Database } from '../db/database.js';
import type { JobDoc } from '../model/documents.js';
import { dataDocsOf } from './data-docs.js';

export interface Removed {
  dataDocuments: number;
  files: number;
}

/**
 * Removes the data documents of deleted passes and, only when asked, their files in file://
 * storage. Remote storage (a copy command) is never touched: it is the storage element's to keep.
 */
export async function removeData(
  db: Database,
  passes: ReadonlyArray<{ id: string; pass: number }>,
  purgeStorage: boolean,
): Promise<Removed> {
  const removed: Removed = { dataDocuments: 0, files: 0 };
  const jobs = await db.allDocs<JobDoc>({ keys: [...new Set(passes.map((pass) => pass.id))], include_docs: true });
  const byId = new Map(jobs.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  const docs = await dataDocsOf(
    db,
    passes.flatMap(({ id, pass }) => {
      const doc = byId.get(id);
      return doc === undefined ? [] : [{ module: doc.module, run: doc.run, pass }];
    }),
  );
  if (purgeStorage) {
    for (const file of docs.flatMap((doc) => doc.files)) {
      if (!file.url.startsWith('file://')) continue;
      rmSync(fileURLToPath(file.url), { force: true });
      removed.files += 1;
    }
  }
  for (let start = 0; start < docs.length; start += 500) {
    const answers = await db.bulkDocs(
      docs
        .slice(start, start + 500)
        .map((doc) => ({ _id: doc._id, ...(doc._rev !== undefined && { _rev: doc._rev }), _deleted: true })),
    );
    removed.dataDocuments += answers.filter((answer) => answer.ok).length;
  }
  return removed;
}

import type { Database } from '../db/database.js';
import { NotFoundError } from '../db/errors.js';
import { currentDataDoc, type StoredDataDoc } from '../model/data.js';
import { jobId, type DataDoc, type JobDoc } from '../model/documents.js';
import { plural } from '../words.js';
import { writeAudit } from './tool.js';

/** Data documents read, and written, in one request. */
export const MIGRATE_PAGE = 500;
/** How often a document another writer changed meanwhile is read and migrated again. */
const RETRIES = 3;
/** Ids of documents to change shown in a preview. */
const SHOWN = 10;
const DATA_PREFIX = 'data:';

export interface Migration {
  /** Data documents read. */
  read: number;
  /** Those in an older form: what --yes writes. */
  older: number;
  /** The first few of them. */
  ids: string[];
  applied: boolean;
  written: number;
  /** Documents --yes could not write, and why. */
  unwritten: Array<{ id: string; reason: string }>;
  /** Documents without a RAT version whose job document does not give it (gone, or without that pass): left so. */
  unversioned: number;
  /** The first few of them. */
  unversionedIds: string[];
}

/**
 * Brings every data document to today's form (`currentDataDoc`: LFN, replicas; GUIDs, checksums and
 * URLs as they were; and its pass's RAT version, from the job document). Only with `yes` does it
 * write: a page at a time, as read, so a large database needs no more memory than a page; a document
 * another writer changed meanwhile is read again. Only data documents: they are the only ones whose
 * form changed (job documents are as they were, and views are `gasp views push`'s). A second run
 * finds nothing to do.
 */
export async function migrateDataDocs(
  db: Database,
  yes: boolean,
  progress: (read: number, total: number) => void = () => {},
): Promise<Migration> {
  const migration: Migration = {
    read: 0,
    older: 0,
    ids: [],
    applied: yes,
    written: 0,
    unwritten: [],
    unversioned: 0,
    unversionedIds: [],
  };
  const total = await dataDocCount(db);
  for await (const page of dataDocPages(db)) {
    migration.read += page.length;
    const { changed: older, unversioned } = await migratedDocs(db, page);
    migration.unversioned += unversioned.length;
    migration.unversionedIds.push(...unversioned.slice(0, SHOWN - migration.unversionedIds.length));
    migration.older += older.length;
    migration.ids.push(...older.slice(0, SHOWN - migration.ids.length).map((doc) => doc._id));
    if (yes && older.length > 0) {
      const { written, unwritten } = await writeMigrated(db, older);
      migration.written += written;
      migration.unwritten.push(...unwritten);
    }
    progress(migration.read, Math.max(total, migration.read));
  }
  if (yes && migration.written > 0)
    await writeAudit(db, 'migrate', {}, { did: `migrated ${plural(migration.written, 'data document')}` });
  return migration;
}

/**
 * Today's form of stored data documents: `currentDataDoc`'s, and the RAT version of its pass from
 * the job document where a document has none. `changed`: those that differ from what is stored;
 * `unversioned`: the ids of those still without a RAT version.
 */
export async function migratedDocs(
  db: Database,
  stored: readonly StoredDataDoc[],
): Promise<{ changed: DataDoc[]; unversioned: string[] }> {
  const current = stored.map(currentDataDoc);
  const versions = await passVersions(
    db,
    current.flatMap(({ doc }) => (typeof doc.rat_version === 'string' ? [] : [doc])),
  );
  const changed: DataDoc[] = [];
  const unversioned: string[] = [];
  for (const { doc, migrated } of current) {
    const version = typeof doc.rat_version === 'string' ? undefined : versions.get(passKey(doc));
    if (version !== undefined) changed.push({ ...doc, rat_version: version });
    else if (migrated) changed.push(doc);
    if (version === undefined && typeof doc.rat_version !== 'string') unversioned.push(doc._id);
  }
  return { changed, unversioned };
}

const passKey = (pass: { module: string; run: number; pass: number }) => `${pass.module}\t${pass.run}\t${pass.pass}`;

/** The RAT version of each pass of these documents' job documents, by passKey; none for a job document gone. */
async function passVersions(db: Database, docs: readonly DataDoc[]): Promise<Map<string, string>> {
  const versions = new Map<string, string>();
  if (docs.length === 0) return versions;
  const keys = [...new Set(docs.map((doc) => jobId(doc.module, doc.run)))];
  for (const row of (await db.allDocs<JobDoc>({ keys, include_docs: true })).rows) {
    const job = row.doc;
    if (job?.type !== 'job' || !Array.isArray(job.passes)) continue;
    for (const pass of job.passes)
      if (typeof pass?.rat_version === 'string') versions.set(passKey({ ...job, pass: pass.pass }), pass.rat_version);
  }
  return versions;
}

/** How many data documents there are, for the progress bar: one row each in data/by_pass; 0 without the view. */
async function dataDocCount(db: Database): Promise<number> {
  try {
    return (await db.view('data', 'by_pass', { limit: 0, update: 'false' })).total_rows ?? 0;
  } catch (error) {
    if (error instanceof NotFoundError) return 0;
    throw error;
  }
}

/** Every data document, a page at a time in id order. */
async function* dataDocPages(db: Database): AsyncGenerator<StoredDataDoc[]> {
  let after: string | undefined;
  for (;;) {
    const page = await db.allDocs<StoredDataDoc>({
      startkey: after ?? DATA_PREFIX,
      endkey: `${DATA_PREFIX}\ufff0`,
      limit: MIGRATE_PAGE,
      include_docs: true,
      ...(after !== undefined && { skip: 1 }),
    });
    yield page.rows.flatMap((row) => (row.doc?.type === 'data' ? [row.doc] : []));
    const last = page.rows.at(-1);
    if (page.rows.length < MIGRATE_PAGE || last === undefined) return;
    after = last.id ?? last.key;
  }
}

/** Writes migrated documents; one changed meanwhile is read, migrated (if it still needs it) and written again. */
export async function writeMigrated(
  db: Database,
  docs: DataDoc[],
): Promise<{ written: number; unwritten: Migration['unwritten'] }> {
  let written = 0;
  const unwritten: Migration['unwritten'] = [];
  let pending = docs;
  for (let attempt = 0; pending.length > 0; attempt++) {
    const rows = await db.bulkDocs(pending);
    written += rows.filter((row) => row.ok).length;
    const conflicted: string[] = [];
    for (const row of rows) {
      if (row.ok) continue;
      if (row.error === 'conflict') conflicted.push(row.id);
      else unwritten.push({ id: row.id, reason: row.reason });
    }
    if (conflicted.length === 0) break;
    if (attempt === RETRIES) {
      unwritten.push(...conflicted.map((id) => ({ id, reason: `changed by another writer ${RETRIES + 1} times` })));
      break;
    }
    const fresh = await db.allDocs<StoredDataDoc>({ keys: conflicted, include_docs: true });
    // a document deleted meanwhile, or brought to today's form by its writer, needs nothing more
    pending = (
      await migratedDocs(
        db,
        fresh.rows.flatMap((row) => (row.doc ? [row.doc] : [])),
      )
    ).changed;
  }
  return { written, unwritten };
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { Database } from './database.js';
import { ConflictError } from './errors.js';

export interface ViewSource {
  map: string;
  reduce?: string;
}

export interface DesignDoc {
  _id: string;
  _rev?: string;
  language: 'javascript';
  views: Record<string, ViewSource>;
}

const BUILT_IN_REDUCES = ['_count', '_sum', '_stats'];

function listFolders(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => statSync(join(dir, name)).isDirectory())
    .sort();
}

/** A view function's source, checked to compile as one JavaScript function expression. */
function readFunction(file: string, problems: string[]): string {
  const source = readFileSync(file, 'utf8').trim();
  try {
    const compiled: unknown = new Function(`return (${source}\n);`)();
    if (typeof compiled !== 'function')
      problems.push(`${file}: is not a function (expected function (doc) { … emit(key, value) … })`);
  } catch (error) {
    problems.push(
      `${file}: does not compile: ${(error as Error).message} (expected function (doc) { … emit(key, value) … })`,
    );
  }
  return source;
}

/**
 * Reads design documents from `views/<ddoc>/views/<view>/map.js` and optional `reduce.js`
 * (a JavaScript reduce function, or one of CouchDB's built-ins `_count`, `_sum`, `_stats`).
 */
export function loadDesignDocs(dir: string): DesignDoc[] {
  if (!existsSync(dir))
    throw new InputError([`${dir}: no such folder (expected design documents as views/<ddoc>/views/<view>/map.js)`]);
  const problems: string[] = [];
  const docs: DesignDoc[] = [];
  for (const ddoc of listFolders(dir)) {
    const viewsDir = join(dir, ddoc, 'views');
    if (!existsSync(viewsDir)) {
      problems.push(`${join(dir, ddoc)}: has no views folder (expected ${viewsDir}/<view>/map.js)`);
      continue;
    }
    const views: Record<string, ViewSource> = {};
    for (const view of listFolders(viewsDir)) {
      const mapFile = join(viewsDir, view, 'map.js');
      const reduceFile = join(viewsDir, view, 'reduce.js');
      if (!existsSync(mapFile)) {
        problems.push(`${join(viewsDir, view)}: has no map.js (expected a map function)`);
        continue;
      }
      const source: ViewSource = { map: readFunction(mapFile, problems) };
      if (existsSync(reduceFile)) {
        const reduce = readFileSync(reduceFile, 'utf8').trim();
        source.reduce = BUILT_IN_REDUCES.includes(reduce) ? reduce : readFunction(reduceFile, problems);
      }
      views[view] = source;
    }
    docs.push({ _id: `_design/${ddoc}`, language: 'javascript', views });
  }
  if (problems.length > 0) throw new InputError(problems);
  return docs;
}

export type PushOutcome = 'created' | 'updated' | 'unchanged';

export interface PushResult {
  database: string;
  id: string;
  outcome: PushOutcome;
  views: string[];
}

/** The parts CouchDB runs; a design doc whose parts are the same needs no write (and no re-index). */
function sameContent(a: Pick<DesignDoc, 'language' | 'views'>, b: Pick<DesignDoc, 'language' | 'views'>): boolean {
  const canonical = (doc: Pick<DesignDoc, 'language' | 'views'>) =>
    JSON.stringify([
      doc.language ?? 'javascript',
      Object.entries(doc.views ?? {})
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([name, view]) => [name, view.map, view.reduce ?? null]),
    ]);
  return canonical(a) === canonical(b);
}

/** Writes each design document whose content differs from the stored one; unchanged ones are not written. */
export async function pushDesignDocs(db: Database, docs: readonly DesignDoc[]): Promise<PushResult[]> {
  const results: PushResult[] = [];
  for (const doc of docs) {
    results.push(await pushOne(db, doc));
  }
  return results;
}

/**
 * Design documents other tools write too: GridTools reads `proddata`, the SNO+ monitoring pages read
 * `dproc`, and a database that ran GASP holds both with more views than gasp's. A push adds and
 * replaces gasp's views in them and keeps the others; in gasp's own, a view gone from views/ goes.
 */
const SHARED_DESIGN_DOCS: readonly string[] = ['_design/proddata', '_design/dproc'];

/** What a push writes: the design document as given, with a shared one's stored views it does not define. */
function toWrite(doc: DesignDoc, stored: DesignDoc | undefined): DesignDoc {
  if (stored === undefined || !SHARED_DESIGN_DOCS.includes(doc._id)) return doc;
  return { ...doc, views: { ...stored.views, ...doc.views } };
}

interface PlannedPush {
  stored: DesignDoc | undefined;
  doc: DesignDoc;
  outcome: PushOutcome;
}

/** What a push of `given` does to `stored`: what it writes, and the outcome. */
function plan(given: DesignDoc, stored: DesignDoc | undefined): PlannedPush {
  const doc = toWrite(given, stored);
  if (stored === undefined) return { stored, doc, outcome: 'created' };
  return { stored, doc, outcome: sameContent(stored, doc) ? 'unchanged' : 'updated' };
}

/** What a push of `given` would do now. */
export async function plannedPush(db: Database, given: DesignDoc): Promise<PlannedPush> {
  return plan(given, await db.find<DesignDoc>(given._id));
}

/** What a push of each of `docs` would do now, read in one request (`gasp doctor`, enqueue's start). */
export async function plannedPushes(db: Database, docs: readonly DesignDoc[]): Promise<PlannedPush[]> {
  const { rows } = await db.allDocs<DesignDoc>({ keys: docs.map((doc) => doc._id), include_docs: true });
  const stored = new Map(rows.flatMap((row) => (row.doc ? [[row.id, row.doc] as const] : [])));
  return docs.map((doc) => plan(doc, stored.get(doc._id)));
}

async function pushOne(db: Database, given: DesignDoc, triesLeft = 3): Promise<PushResult> {
  const { stored, doc, outcome } = await plannedPush(db, given);
  const result = { database: db.name, id: doc._id, views: Object.keys(given.views) };
  if (outcome === 'unchanged') return { ...result, outcome };
  try {
    await db.put({ ...stored, ...doc, ...(stored?._rev !== undefined && { _rev: stored._rev }) });
  } catch (error) {
    // another push wrote it in between: look again
    if (error instanceof ConflictError && triesLeft > 1) return pushOne(db, given, triesLeft - 1);
    throw error;
  }
  return { ...result, outcome };
}

/** Queries a view so CouchDB builds its index now rather than on the first real query; waits as long as that takes. */
export async function buildIndex(db: Database, designDoc: string, view: string): Promise<void> {
  await db.view(designDoc, view, { limit: 0, reduce: false }, { timeoutMs: 0 });
}

interface ActiveTask {
  type?: string;
  database?: string;
  design_document?: string;
  changes_done?: number;
  total_changes?: number;
}

/**
 * How far CouchDB is with indexing a design document, 0–100, from `_active_tasks` (summed over
 * the database's shards); undefined when the server does not say (PouchDB Server, or no task).
 */
export async function indexProgress(db: Database, designDoc: string): Promise<number | undefined> {
  let tasks: ActiveTask[];
  try {
    tasks = await db.couch.request<ActiveTask[]>({ path: '_active_tasks', timeoutMs: 5_000 });
  } catch {
    return undefined;
  }
  if (!Array.isArray(tasks)) return undefined;
  // CouchDB 3 names a shard "shards/<range>/<db>.<suffix>"
  const shardOf = (database: string) => database.replace(/^shards\/[^/]+\//, '').replace(/\.\d+$/, '');
  const ours = tasks.filter(
    (task) =>
      task.type === 'indexer' &&
      task.design_document === `_design/${designDoc}` &&
      shardOf(task.database ?? '') === db.name,
  );
  const total = ours.reduce((sum, task) => sum + (task.total_changes ?? 0), 0);
  if (ours.length === 0 || total === 0) return undefined;
  const done = ours.reduce((sum, task) => sum + (task.changes_done ?? 0), 0);
  return Math.min(100, Math.round((100 * done) / total));
}

/**
 * How many changes of the database a design document's index has yet to read (0: built), from its
 * `_info` and the database's `update_seq`; undefined when the server does not say (PouchDB Server
 * answers `_info` with "Not implemented."). CouchDB's sequences are opaque strings whose leading
 * number counts the changes, the index's a number of the same count.
 */
export async function indexLag(db: Database, designDoc: string): Promise<number | undefined> {
  const info = await db.couch.request<{ view_index?: unknown }>({
    db: db.name,
    path: `_design/${designDoc}/_info`,
  });
  const index = info.view_index;
  if (typeof index !== 'object' || index === null) return undefined;
  const indexed = leadingNumber((index as { update_seq?: unknown }).update_seq);
  const changes = leadingNumber((await db.info()).update_seq);
  if (indexed === undefined || changes === undefined) return undefined;
  return Math.max(0, changes - indexed);
}

const leadingNumber = (seq: unknown): number | undefined => {
  if (typeof seq === 'number') return seq;
  const match = typeof seq === 'string' ? /^(\d+)/.exec(seq) : null;
  return match?.[1] === undefined ? undefined : Number(match[1]);
};

import { rmSync } from 'node:fs';
import type { Database } from '../db/database.js';
import { jobId, type DataDoc, type JobDoc, type Replica } from '../model/documents.js';
import { failed, removeFiles } from '../storage/xrdfs-session.js';
import { ping } from '../storage/xrootd.js';
import { plural } from '../words.js';
import { dataDocsOf } from './data-docs.js';
import type { Selected } from './selection.js';
import { passKey } from './tool.js';
import { placeOf } from './verify-places.js';

/** Removes the data documents of deleted passes; returns how many. */
export async function removeData(db: Database, passes: ReadonlyArray<{ id: string; pass: number }>): Promise<number> {
  const jobs = await db.allDocs<JobDoc>({ keys: [...new Set(passes.map((pass) => pass.id))], include_docs: true });
  const byId = new Map(jobs.rows.flatMap((row) => (row.doc ? [[row.doc._id, row.doc] as const] : [])));
  const docs = await dataDocsOf(
    db,
    passes.flatMap(({ id, pass }) => {
      const doc = byId.get(id);
      return doc === undefined ? [] : [{ module: doc.module, run: doc.run, pass }];
    }),
  );
  let removed = 0;
  for (let start = 0; start < docs.length; start += 500) {
    const answers = await db.bulkDocs(
      docs
        .slice(start, start + 500)
        .map((doc) => ({ _id: doc._id, ...(doc._rev !== undefined && { _rev: doc._rev }), _deleted: true })),
    );
    removed += answers.filter((answer) => answer.ok).length;
  }
  return removed;
}

/** One copy of a file of a selected pass, where it is. */
interface StoredCopy {
  doc: DataDoc;
  replica: Replica;
  /** `SFU-SE (root://host:port)`, `this machine (file://)`, or undefined: a copy command put it there. */
  where: string | undefined;
}

/** The copies the passes' data documents name (not those known gone), by where they are. */
async function copiesOf(db: Database, passes: readonly Selected[]): Promise<StoredCopy[]> {
  const docs = await dataDocsOf(
    db,
    passes.map(({ doc, pass }) => ({ module: doc.module, run: doc.run, pass: pass.pass })),
  );
  return docs.flatMap((doc) => {
    return doc.files.flatMap((file) =>
      file.replicas
        .filter((replica) => replica.missing === undefined)
        .map((replica) => {
          const place = placeOf(replica.url);
          const where =
            place.kind === 'root'
              ? `${replica.se} (${place.server})`
              : place.kind === 'file'
                ? 'this machine (file://)'
                : undefined;
          return { doc, replica, where };
        }),
    );
  });
}

/** `2 on SFU-SE (root://host:port), 1 on this machine (file://)`. */
function byWhere(copies: readonly StoredCopy[]): string {
  const counts = new Map<string, number>();
  for (const { where } of copies) if (where !== undefined) counts.set(where, (counts.get(where) ?? 0) + 1);
  return [...counts].map(([where, n]) => `${n} ${where.startsWith('file:') ? 'in' : 'on'} ${where}`).join(', ');
}

/** What --purge-storage would remove: how many files and where, and what it cannot remove. */
export async function describePurge(db: Database, passes: readonly Selected[]): Promise<string> {
  const copies = await copiesOf(db, passes);
  const removable = copies.filter((copy) => copy.where !== undefined);
  const others = copies.length - removable.length;
  return `delete --purge-storage: would remove ${plural(removable.length, 'file')} in storage${removable.length > 0 ? `: ${byWhere(removable)}` : ''}${others > 0 ? `; ${plural(others, 'file')} put there by a copy command ${others === 1 ? 'stays' : 'stay'} (gasp cannot remove ${others === 1 ? 'it' : 'them'})` : ''}`;
}

export interface Purged {
  /** Passes whose files were not all removed: they stay as they are, their documents naming what is left. */
  keep: Set<string>;
  lines: string[];
}

/** Removes the copies on one SE through one xrdfs session; what failed, by URL, with why. */
async function removeOnSe(server: string, copies: readonly StoredCopy[]): Promise<Map<string, string>> {
  const paths = new Map(
    copies.flatMap((copy) => {
      const place = placeOf(copy.replica.url);
      return place.kind === 'root' ? [[place.path, copy.replica.url] as const] : [];
    }),
  );
  try {
    await ping(server);
    const results = await removeFiles(server, [...paths.keys()]);
    return new Map(
      [...results].flatMap(([path, result]) =>
        failed(result) ? [[paths.get(path) ?? path, result.error] as const] : [],
      ),
    );
  } catch (error) {
    return new Map([...paths.values()].map((url) => [url, (error as Error).message]));
  }
}

/**
 * Removes the storage files the passes' data documents name: file:// here, root:// through one
 * xrdfs session per SE. A pass whose files were not all removed (an SE that does not answer) is
 * kept, with one line per SE saying so; the copies removed from it are marked missing in its
 * documents, so they name only what is left.
 */
export async function purgeStorage(db: Database, passes: readonly Selected[], now: Date): Promise<Purged> {
  const copies = await copiesOf(db, passes);
  const notRemoved = new Map<string, string>();
  const servers = new Map<string, StoredCopy[]>();
  for (const copy of copies) {
    const place = placeOf(copy.replica.url);
    if (place.kind === 'root')
      servers
        .set(place.server, servers.get(place.server) ?? [])
        .get(place.server)
        ?.push(copy);
    else if (place.kind === 'file')
      try {
        rmSync(place.path, { force: true });
      } catch (error) {
        notRemoved.set(copy.replica.url, (error as Error).message);
      }
  }
  for (const [server, onSe] of servers)
    for (const [url, why] of await removeOnSe(server, onSe)) notRemoved.set(url, why);
  const removed = copies.filter((copy) => copy.where !== undefined && !notRemoved.has(copy.replica.url));
  const kept = new Set<string>();
  const lines: string[] = [];
  // one line per place: the first reason, how many files, how many passes kept
  const places = new Map<string, { why: string; passes: Set<string>; files: number }>();
  for (const copy of copies.filter((copy) => notRemoved.has(copy.replica.url))) {
    const key = passKey(jobId(copy.doc.module, copy.doc.run), copy.doc.pass);
    kept.add(key);
    const where = copy.where ?? '';
    const place = places.get(where) ?? { why: notRemoved.get(copy.replica.url) ?? '', passes: new Set(), files: 0 };
    place.passes.add(key);
    place.files += 1;
    places.set(where, place);
  }
  if (removed.length > 0 || (places.size === 0 && copies.length > 0))
    lines.push(
      `delete: removed ${plural(removed.length, 'file')} in storage${removed.length > 0 ? `: ${byWhere(removed)}` : ''}`,
    );
  for (const [where, { why, passes: held, files }] of places)
    lines.push(
      `${why}; ${plural(files, 'file')} on ${where} not removed: ${plural(held.size, 'pass', 'passes')} left as ${held.size === 1 ? 'it is' : 'they are'}, with ${held.size === 1 ? 'its' : 'their'} data documents`,
    );
  await markRemoved(
    db,
    removed.filter((copy) => kept.has(passKey(jobId(copy.doc.module, copy.doc.run), copy.doc.pass))),
    now,
  );
  return { keep: kept, lines };
}

/** In the documents of passes kept, the copies removed are marked missing: the documents name what is left. */
async function markRemoved(db: Database, removed: readonly StoredCopy[], now: Date): Promise<void> {
  const docs = new Map<string, DataDoc>();
  for (const { doc, replica } of removed) {
    replica.missing = now.toISOString();
    docs.set(doc._id, doc);
  }
  if (docs.size > 0) await db.bulkDocs([...docs.values()]);
}

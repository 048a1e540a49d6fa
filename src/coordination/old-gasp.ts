import type { Database } from '../db/database.js';
import { GaspError } from '../errors.js';
import { plural } from '../words.js';

/**
 * GASP's clients serialize their submission with `enqueue_command.py`: a leader document
 * (`enqueue_leader`), a document listing the sites (`enqueue_sites`), and one heartbeat document per
 * site, written with the UTC time every 10 minutes and stale after 30 (its defaults). gasp and GASP on
 * one database would both submit the same passes, so gasp does not start while these exist.
 */
export const OLD_LEADER_ID = 'enqueue_leader';
export const OLD_SITES_ID = 'enqueue_sites';
/** GASP's `--heartbeat-stale` default. */
export const OLD_STALE_SECONDS = 30 * 60;

export interface OldDocument {
  id: string;
  rev: string;
  /** The newest time it holds (GASP writes `%Y-%m-%d %H:%M:%S`, UTC), as ISO; none found: undefined. */
  written?: string;
}

export interface OldClients {
  /** enqueue_leader, enqueue_sites and the heartbeat documents enqueue_sites names, as found. */
  documents: OldDocument[];
  /** The youngest heartbeat's age in seconds, when any document holds a time. */
  youngestSeconds?: number;
}

const TIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Every string a document holds below its top level, and its keys: where a site list may name heartbeat documents. */
function strings(value: unknown, into: string[] = []): string[] {
  if (typeof value === 'string') into.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, into);
  else if (typeof value === 'object' && value !== null)
    for (const [key, item] of Object.entries(value)) {
      if (key.startsWith('_')) continue;
      into.push(key);
      strings(item, into);
    }
  return into;
}

/** The newest time among a document's strings; a time without a zone is UTC, as GASP writes it. */
export function newestTime(doc: unknown): string | undefined {
  let newest: number | undefined;
  for (const text of strings(doc)) {
    const match = TIME.exec(text.trim());
    if (match === null) continue;
    const ms = Date.parse(`${match[1]}T${match[2]}${match[3] ?? ''}${match[4] ?? 'Z'}`);
    if (Number.isFinite(ms) && (newest === undefined || ms > newest)) newest = ms;
  }
  return newest === undefined ? undefined : new Date(newest).toISOString();
}

/** GASP's coordination documents in this database, if any: two reads when there are none. */
export async function findOldClients(db: Database, now: Date): Promise<OldClients | undefined> {
  const first = await db.allDocs<Record<string, unknown>>({ keys: [OLD_LEADER_ID, OLD_SITES_ID], include_docs: true });
  const found = first.rows.flatMap((row) => (row.doc === undefined || row.doc === null ? [] : [row.doc]));
  if (found.length === 0) return undefined;
  const sites = found.find((doc) => doc._id === OLD_SITES_ID);
  const named = [...new Set(strings(sites ?? {}))].filter(
    (id) => id !== OLD_LEADER_ID && id !== OLD_SITES_ID && !TIME.test(id),
  );
  const beats =
    named.length === 0
      ? []
      : (await db.allDocs<Record<string, unknown>>({ keys: named, include_docs: true })).rows.flatMap((row) =>
          row.doc === undefined || row.doc === null ? [] : [row.doc],
        );
  const documents = [...found, ...beats].map((doc) => {
    const written = newestTime(doc);
    return { id: String(doc._id), rev: String(doc._rev), ...(written !== undefined && { written }) };
  });
  const ages = documents.flatMap((doc) =>
    doc.written === undefined ? [] : [(now.getTime() - Date.parse(doc.written)) / 1000],
  );
  return { documents, ...(ages.length > 0 && { youngestSeconds: Math.max(0, Math.min(...ages)) }) };
}

/**
 * Whether an old client may still submit: a heartbeat within GASP's stale window, or none gasp can
 * read (enqueue_command.py takes another --time-format), so that nothing says it stopped.
 */
export function oldClientsAlive(old: OldClients): boolean {
  return old.youngestSeconds === undefined || old.youngestSeconds < OLD_STALE_SECONDS;
}

/** One line naming the documents and how old their newest heartbeat is. */
export function describeOldClients(db: string, old: OldClients): string {
  const names = old.documents.map((doc) => doc.id).join(', ');
  const age =
    old.youngestSeconds === undefined
      ? 'no heartbeat time gasp can read in them, so nothing says the old clients stopped'
      : `newest heartbeat ${Math.round(old.youngestSeconds / 60)} min ago${oldClientsAlive(old) ? ', so an old client may still be submitting' : ''}`;
  return `${db} holds GASP's enqueue_command ${plural(old.documents.length, 'document')} (${names}; ${age})`;
}

/** gasp enqueue does not start on a database GASP's clients coordinate in. Exit code 1, as for a site already running. */
export class OldClientsError extends GaspError {
  override readonly code = 'E_OLD_CLIENTS';
  constructor(message: string) {
    super(message);
    this.name = 'OldClientsError';
  }
}

/** Throws OldClientsError naming GASP's documents when the database holds any. */
export async function refuseBesideOldClients(db: Database, now: Date): Promise<void> {
  const old = await findOldClients(db, now);
  if (old === undefined) return;
  throw new OldClientsError(
    `gasp enqueue: ${describeOldClients(db.name, old)}; gasp and GASP must never submit from one database: stop GASP's clients (README: Switching from GASP), then gasp switch-over --yes removes these documents`,
  );
}

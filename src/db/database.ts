import { DbError, NotFoundError } from './errors.js';
import { LeaseHolder } from './holder.js';

export type HttpMethod = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD';

export interface CouchRequest {
  method?: HttpMethod;
  db?: string;
  /** A document id; encoded, except `_design/…` and `_local/…`, which CouchDB takes as they are. */
  doc?: string;
  /** A path below the database, such as `_bulk_docs` or `_design/passes/_view/by_status`. */
  path?: string;
  qs?: Record<string, unknown>;
  body?: unknown;
  /** This request's timeout; 0 waits as long as the server takes (building a large view index). */
  timeoutMs?: number;
}

/** What a database needs of its server (`Couch`): requests, and its address for messages. */
export interface Server {
  readonly url: string;
  request<T>(request: CouchRequest): Promise<T>;
}

export interface StoredDoc {
  _id: string;
  _rev?: string;
}

export interface WriteResult {
  id: string;
  rev: string;
}

/** One row of a `_bulk_docs` answer: each document wins or loses on its own. */
export type BulkRow = { id: string; ok: true; rev: string } | { id: string; ok: false; error: string; reason: string };

export interface ViewParams {
  key?: unknown;
  keys?: unknown[];
  startkey?: unknown;
  endkey?: unknown;
  limit?: number;
  skip?: number;
  descending?: boolean;
  include_docs?: boolean;
  reduce?: boolean;
  group?: boolean;
  group_level?: number;
  inclusive_end?: boolean;
  /** With include_docs: each document's `_conflicts`, if it has any. */
  conflicts?: boolean;
  /** `false` reads the index as it is (fast; may lag behind writes); `lazy` reads it and updates after. */
  update?: 'true' | 'false' | 'lazy';
  /** The answer says how far into the database the index has seen (`update_seq`). */
  update_seq?: boolean;
}

/** How a query waits: the request timeout, or 0 for as long as an index build takes. */
export interface QueryOptions {
  timeoutMs?: number;
}

export interface ViewRow<K, V, D> {
  id?: string;
  key: K;
  value: V;
  doc?: D | null;
}

export interface ViewResult<K, V, D> {
  total_rows?: number;
  offset?: number;
  rows: Array<ViewRow<K, V, D>>;
  /** With `update_seq`: the database sequence the index has seen (opaque, as the database's own). */
  update_seq?: unknown;
}

/**
 * A sequence as a number to compare: PouchDB's are numbers, CouchDB 3's strings whose leading
 * number counts the changes (`"1234-g1AAAA…"`); undefined for anything else.
 */
export function seqNumber(seq: unknown): number | undefined {
  if (typeof seq === 'number') return seq;
  const match = typeof seq === 'string' ? /^(\d+)(?:-|$)/.exec(seq) : null;
  return match === null ? undefined : Number(match[1]);
}

export interface ChangesParams {
  /** Opaque: CouchDB 3 gives strings, PouchDB numbers; pass back what last_seq was. */
  since?: unknown;
  limit?: number;
  include_docs?: boolean;
  /** `_view` with `view` = `ddoc/view`: only documents that view emits for. */
  filter?: '_view';
  view?: string;
}

export interface ChangesPage<D> {
  results: Array<{ id: string; seq: unknown; deleted?: boolean; doc?: D }>;
  last_seq: unknown;
}

/** CouchDB's raw `_bulk_docs` row. */
interface RawBulkRow {
  id?: string;
  rev?: string;
  ok?: boolean;
  error?: string;
  reason?: string;
}

/** One CouchDB database. Every request goes through its Couch, so errors and retries are handled once. */
export class Database {
  /**
   * Who takes leases through this handle. On the handle every caller is given rather than in module
   * state: the calls through one handle are one holder, so a call takes back the lease an earlier
   * one could not release, while any other handle (another client) waits for it to end.
   */
  readonly leaseHolder = new LeaseHolder();

  constructor(
    readonly couch: Server,
    readonly name: string,
  ) {}

  info(): Promise<{ db_name: string; doc_count: number; update_seq: unknown; disk_size?: number }> {
    return this.couch.request({ db: this.name });
  }

  async exists(): Promise<boolean> {
    try {
      await this.info();
      return true;
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
  }

  /** Creates the database; true if it was created, false if it was already there. */
  async create(): Promise<boolean> {
    try {
      await this.couch.request({ method: 'PUT', db: this.name });
      return true;
    } catch (error) {
      if (error instanceof DbError && error.statusCode === 412) return false;
      throw error;
    }
  }

  async destroy(): Promise<void> {
    await this.couch.request({ method: 'DELETE', db: this.name });
  }

  get<T extends StoredDoc>(id: string, qs?: Record<string, unknown>): Promise<T> {
    return this.couch.request({ db: this.name, doc: id, ...(qs !== undefined && { qs }) });
  }

  /** The document, or undefined when there is none. */
  async find<T extends StoredDoc>(id: string): Promise<T | undefined> {
    try {
      return await this.get<T>(id);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  /** Writes one document; a stale or missing `_rev` on an existing id throws ConflictError. */
  async put<T extends StoredDoc>(doc: T): Promise<WriteResult> {
    const answer = await this.couch.request<{ id: string; rev: string }>({
      method: 'PUT',
      db: this.name,
      doc: doc._id,
      body: doc,
    });
    return { id: answer.id, rev: answer.rev };
  }

  /** Deletes one revision of a document; a stale `rev` throws ConflictError. */
  async remove(id: string, rev: string): Promise<void> {
    await this.couch.request({ method: 'DELETE', db: this.name, doc: id, qs: { rev } });
  }

  /**
   * Writes many documents in one request. Rows answer one by one: a conflict is that row's answer,
   * not a failed batch. A retried request may answer `conflict` for a row the first try wrote,
   * so callers that must know re-read those documents.
   */
  async bulkDocs<T extends StoredDoc>(docs: readonly T[]): Promise<BulkRow[]> {
    if (docs.length === 0) return [];
    const answer = await this.couch.request<RawBulkRow[]>({
      method: 'POST',
      db: this.name,
      path: '_bulk_docs',
      body: { docs },
    });
    // PouchDB Server answers updates out of order (CouchDB keeps it): rows are matched by id, so a
    // caller never takes another document's win, loss or _rev for its own
    const byId = new Map(answer.flatMap((row) => (row.id === undefined ? [] : [[row.id, row] as const])));
    const unique = byId.size === docs.length && docs.every((doc) => byId.has(doc._id));
    const rows = unique ? docs.map((doc) => byId.get(doc._id) as RawBulkRow) : answer;
    return rows.map((row, index): BulkRow => {
      const id = row.id ?? docs[index]?._id ?? '';
      if (row.error === undefined && row.rev !== undefined) return { id, ok: true, rev: row.rev };
      return { id, ok: false, error: row.error ?? 'unknown', reason: row.reason ?? row.error ?? 'no reason given' };
    });
  }

  /** Queries a view; `keys` goes in a POST body, so any number of keys fits. */
  async view<K = unknown, V = unknown, D = unknown>(
    designDoc: string,
    view: string,
    params: ViewParams = {},
    options: QueryOptions = {},
  ): Promise<ViewResult<K, V, D>> {
    const { keys, ...rest } = params;
    // CouchDB reads `update`; PouchDB Server only the older `stale`, which CouchDB 3 still takes with the same meaning
    const stale = params.update === 'lazy' ? 'update_after' : params.update === 'false' ? 'ok' : undefined;
    const qs = stale === undefined ? rest : { ...rest, stale };
    const path = `_design/${designDoc}/_view/${view}`;
    try {
      if (keys !== undefined)
        return await this.couch.request({ method: 'POST', db: this.name, path, qs, body: { keys }, ...options });
      return await this.couch.request({ db: this.name, path, qs, ...options });
    } catch (error) {
      if (
        !(error instanceof NotFoundError) ||
        error.reason === 'no_db_file' ||
        error.reason === 'Database does not exist.'
      )
        throw error;
      const details = {
        statusCode: 404,
        request: error.request,
        ...(error.reason !== undefined && { reason: error.reason }),
      };
      throw new NotFoundError(details, `${this.name} has no view ${designDoc}/${view} (run gasp views push)`);
    }
  }

  /** One page of the changes feed (a plain request: no long-held connection to lose). */
  changes<D = unknown>(params: ChangesParams, options: QueryOptions = {}): Promise<ChangesPage<D>> {
    return this.couch.request({ db: this.name, path: '_changes', qs: { ...params }, ...options });
  }

  allDocs<D = unknown>(params: ViewParams = {}): Promise<ViewResult<string, { rev: string }, D>> {
    const { keys, ...qs } = params;
    if (keys !== undefined)
      return this.couch.request({ method: 'POST', db: this.name, path: '_all_docs', qs, body: { keys } });
    return this.couch.request({ db: this.name, path: '_all_docs', qs });
  }
}

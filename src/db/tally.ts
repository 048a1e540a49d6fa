import { createHash } from 'node:crypto';
import type { Logger } from '../log.js';
import { sleep } from './backoff.js';
import type { Database } from './database.js';
import type { DesignDoc } from './design-docs.js';
import { NotFoundError } from './errors.js';

/**
 * Why this exists: PouchDB Server computes a reduce at query time over every row in the range, so a
 * grouped `_sum` of 100,000 passes took seconds; CouchDB keeps reductions in its index and needs
 * none of this. A tally keeps the grouped sums of one `_sum` view current from the changes feed, in
 * a long-running process next to the embedded server (`gasp serve`, the dashboard), and writes
 * them to a `_local` document, which neither replicates nor moves the database's update_seq.
 * Readers use it only when it sums the design document's map as it is now and has seen every
 * change they could have seen (see `readTally`).
 */
export interface TallyDoc {
  _id: string;
  _rev?: string;
  /** The changes feed position the rows include. */
  seq: unknown;
  /** sha256 of the map function summed: a tally of another map than the design document's is not read. */
  map_sha256: string;
  written: string;
  rows: Array<[key: unknown, value: number[]]>;
}

export const tallyId = (designDoc: string, view: string) => `_local/gasp-tally-${designDoc}-${view}`;

/** Changes read at a time, and the pause between polls once caught up (a reader waits at most about this long). */
const PAGE = 2_000;
const POLL_MS = 200;

const mapSha256 = (source: string) => createHash('sha256').update(source.trim()).digest('hex');

type Emit = (key: unknown, value: unknown) => void;

/** A map function's source run here as CouchDB would run it: the one definition stays in views/. */
function compileMap(source: string, emit: Emit): (doc: unknown) => void {
  return new Function('emit', `return (${source}\n);`)(emit) as (doc: unknown) => void;
}

const asNumbers = (value: unknown): number[] =>
  typeof value === 'number'
    ? [value]
    : Array.isArray(value)
      ? value.map((item) => (typeof item === 'number' ? item : 0))
      : [0];

export class ViewTally {
  readonly #db: Database;
  readonly #id: string;
  readonly #log: Logger;
  readonly #map: (doc: unknown) => void;
  readonly #mapSha256: string;
  #emitted: Array<[string, number[]]> = [];
  /** Each document's rows, by interned key, so a changed document's old rows come off first. */
  readonly #byDoc = new Map<string, Array<[number, number[]]>>();
  readonly #keys: string[] = [];
  readonly #keyIndex = new Map<string, number>();
  readonly #sums = new Map<number, number[]>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #rev: string | undefined;
  /** Resolves after each write of the tally document (tests wait on it). */
  #written: Array<() => void> = [];

  constructor(db: Database, designDoc: string, view: string, mapSource: string, log: Logger) {
    this.#db = db;
    this.#id = tallyId(designDoc, view);
    this.#log = log.child({ component: 'tally', database: db.name, view: `${designDoc}/${view}` });
    this.#mapSha256 = mapSha256(mapSource);
    this.#map = compileMap(mapSource, (key, value) => this.#emitted.push([JSON.stringify(key), asNumbers(value)]));
  }

  start(): void {
    this.#loop ??= this.#follow();
  }

  /** Stops following; the database server may already be gone. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  /** Resolves once the tally document has been written again. */
  nextWrite(): Promise<void> {
    return new Promise((resolve) => this.#written.push(resolve));
  }

  async #follow(): Promise<void> {
    let since: unknown = 0;
    // unwritten changes (also after a failed write): the document is written until it holds them
    let dirty = true;
    while (!this.#stop.signal.aborted) {
      try {
        // polled, not longpoll: PouchDB Server holds a longpoll past its `timeout`
        const page = await this.#db.changes<unknown>({ since, include_docs: true, limit: PAGE });
        for (const change of page.results) this.#replace(change.id, change.deleted === true ? undefined : change.doc);
        dirty ||= page.results.length > 0;
        since = page.last_seq;
        if (dirty) {
          await this.#write(since);
          dirty = false;
        }
        if (page.results.length < PAGE) await sleep(POLL_MS, this.#stop.signal);
      } catch (error) {
        if (this.#stop.signal.aborted) return;
        const missing = error instanceof NotFoundError;
        if (missing) {
          // deleted (and maybe made again): what was summed belongs to a database that is gone
          this.#reset();
          since = 0;
          dirty = true;
        }
        this.#log.warn(
          { error: (error as Error).message },
          missing
            ? 'the database is not there; the summary tally starts again when it is'
            : 'the summary tally could not follow the changes feed; trying again in 5 s',
        );
        await sleep(5_000, this.#stop.signal);
      }
    }
  }

  #reset(): void {
    this.#byDoc.clear();
    this.#sums.clear();
    this.#keys.length = 0;
    this.#keyIndex.clear();
    this.#rev = undefined;
  }

  #replace(id: string, doc: unknown): void {
    for (const [key, value] of this.#byDoc.get(id) ?? []) this.#add(key, value, -1);
    this.#byDoc.delete(id);
    if (doc === undefined || id.startsWith('_design/')) return;
    this.#emitted = [];
    try {
      this.#map(doc);
    } catch {
      // CouchDB skips a document its map function throws on; so does the tally
      return;
    }
    if (this.#emitted.length === 0) return;
    const rows = this.#emitted.map(([key, value]): [number, number[]] => [this.#intern(key), value]);
    for (const [key, value] of rows) this.#add(key, value, 1);
    this.#byDoc.set(id, rows);
  }

  #intern(key: string): number {
    let index = this.#keyIndex.get(key);
    if (index === undefined) {
      index = this.#keys.push(key) - 1;
      this.#keyIndex.set(key, index);
    }
    return index;
  }

  #add(key: number, value: readonly number[], sign: 1 | -1): void {
    const sums = this.#sums.get(key) ?? [];
    value.forEach((number, index) => (sums[index] = (sums[index] ?? 0) + sign * number));
    // the first element counts rows (passes); the others are sums of fractions that may not cancel exactly
    if (sums[0] === 0) this.#sums.delete(key);
    else this.#sums.set(key, sums);
  }

  async #write(seq: unknown): Promise<void> {
    const rows = [...this.#sums].map(([key, sums]): [unknown, number[]] => [
      JSON.parse(this.#keys[key] ?? 'null') as unknown,
      sums,
    ]);
    const doc: TallyDoc = {
      _id: this.#id,
      seq,
      map_sha256: this.#mapSha256,
      written: new Date().toISOString(),
      rows,
      ...(this.#rev !== undefined && { _rev: this.#rev }),
    };
    try {
      this.#rev = (await this.#db.put(doc)).rev;
    } catch {
      // someone else's copy (a second serve, a restored database): take its revision and write ours
      this.#rev = (await this.#db.find<TallyDoc>(this.#id))?._rev;
      this.#rev = (await this.#db.put({ ...doc, ...(this.#rev !== undefined && { _rev: this.#rev }) })).rev;
    }
    for (const resolve of this.#written.splice(0)) resolve();
  }
}

/**
 * The grouped rows of a `_sum` view: from its tally when that is current, else one grouped read of
 * the view over the range (which PouchDB Server sums at query time).
 */
export async function groupedRows<K extends unknown[] | string, V>(
  db: Database,
  designDoc: string,
  view: string,
  range: { startkey?: unknown; endkey?: unknown } = {},
): Promise<Array<{ key: K; value: V }>> {
  const tallied = await readTally(db, designDoc, view);
  if (tallied !== undefined)
    return tallied.map(([key, value]) => ({
      key: key as unknown as K,
      value: (value.length === 1 ? value[0] : value) as V,
    }));
  return (await db.view<K, V>(designDoc, view, { ...range, group: true })).rows;
}

/**
 * Whether a tally written at changes-feed position `tallySeq` has seen every change up to
 * `updateSeq`. Only PouchDB Server's positions are numbers that can be ordered; CouchDB's are opaque
 * strings ("12-g1AAAA…"), their number prefix not promised to order them, and CouchDB keeps its
 * reductions in the index: there a tally is never taken as current.
 */
export function tallyCaughtUp(tallySeq: unknown, updateSeq: unknown): boolean {
  return typeof tallySeq === 'number' && typeof updateSeq === 'number' && tallySeq >= updateSeq;
}

/**
 * The tally's rows if it has seen every change made before this call, waiting up to `waitMs` for it
 * to catch up; undefined when there is no tally (CouchDB, or no `gasp serve` running) or it lags,
 * and the caller reads the view itself.
 */
export async function readTally(
  db: Database,
  designDoc: string,
  view: string,
  waitMs = 1_500,
): Promise<TallyDoc['rows'] | undefined> {
  const [info, first, design] = await Promise.all([
    db.info(),
    db.find<TallyDoc>(tallyId(designDoc, view)),
    db.find<DesignDoc>(`_design/${designDoc}`),
  ]);
  const map = design?.views[view]?.map;
  // CouchDB: an opaque update_seq, and no tally is ever current there (see tallyCaughtUp)
  if (
    typeof info.update_seq !== 'number' ||
    first === undefined ||
    map === undefined ||
    first.map_sha256 !== mapSha256(map)
  )
    return undefined;
  const deadline = Date.now() + waitMs;
  for (
    let tally: TallyDoc | undefined = first;
    tally !== undefined;
    tally = await db.find<TallyDoc>(tallyId(designDoc, view))
  ) {
    if (tallyCaughtUp(tally.seq, info.update_seq)) return tally.rows;
    if (Date.now() > deadline) return undefined;
    await sleep(50);
  }
  return undefined;
}

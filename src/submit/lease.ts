import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import { ConflictError } from '../db/errors.js';
import { UnavailableError } from '../errors.js';
import { isAlive } from '../processes.js';

interface LeaseDoc {
  _id: string;
  _rev?: string;
  type: 'lease';
  host: string;
  pid: number;
  expires: string;
}

export const LEASE_SECONDS = 60;

/** Leases this process holds now: one of ours not in here is left from a call that failed to release it. */
const heldHere = new Set<string>();

/**
 * One writer at a time for something named (a request): a document only one process can create,
 * renewed while it works, taken over when it expires or its holder on this host is gone. A second
 * submit of the same request waits for the first instead of racing it.
 */
export class Lease {
  #doc: LeaseDoc;
  private constructor(
    private readonly db: Database,
    private readonly name: string,
    doc: LeaseDoc,
  ) {
    this.#doc = doc;
  }

  static async take(db: Database, name: string, now: () => number = Date.now): Promise<Lease> {
    const fresh = (): LeaseDoc => ({
      _id: `lease:${name}`,
      type: 'lease',
      host: hostname(),
      pid: process.pid,
      expires: new Date(now() + LEASE_SECONDS * 1000).toISOString(),
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = await db.find<LeaseDoc>(`lease:${name}`);
      const ours = held !== undefined && held.host === hostname() && held.pid === process.pid;
      const stale =
        held === undefined ||
        Date.parse(held.expires) < now() ||
        (held.host === hostname() && !isAlive(held.pid)) ||
        (ours && !heldHere.has(name));
      if (!stale) {
        throw new UnavailableError(
          `${name} is being written by process ${held.pid} on ${held.host} (its lease ends ${held.expires}); run the same command again after that`,
        );
      }
      const doc = { ...fresh(), ...(held?._rev !== undefined && { _rev: held._rev }) };
      try {
        const written = await db.put(doc);
        heldHere.add(name);
        return new Lease(db, name, { ...doc, _rev: written.rev });
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new UnavailableError(`${name}: another process took it at the same moment; run the same command again`);
  }

  /** Keeps the lease while the work goes on. */
  async renew(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const doc = { ...this.#doc, expires: new Date(Date.now() + LEASE_SECONDS * 1000).toISOString() };
      try {
        const written = await this.db.put(doc);
        this.#doc = { ...doc, _rev: written.rev };
        return;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        // a retried write that had landed: the stored lease is still ours, with a newer revision
        const stored = await this.db.find<LeaseDoc>(this.#doc._id);
        if (stored === undefined || stored.host !== this.#doc.host || stored.pid !== this.#doc.pid) {
          throw new UnavailableError(
            `${this.name}: another process took over this work (its lease had run out); stopping here`,
          );
        }
        this.#doc = stored;
      }
    }
  }

  /** Best effort: a lease that cannot be removed (the database is down) ends by itself. */
  async release(): Promise<void> {
    heldHere.delete(this.name);
    try {
      if (this.#doc._rev !== undefined) await this.db.remove(this.#doc._id, this.#doc._rev);
    } catch {
      // it expires within LEASE_SECONDS
    }
  }
}

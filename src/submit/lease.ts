import { ServerClock } from '../db/clock.js';
import type { Database } from '../db/database.js';
import { DocumentLease } from '../db/lease.js';
import { UnavailableError } from '../errors.js';
import type { LeaseFields } from '../model/lease.js';

interface SubmitLeaseDoc extends LeaseFields {
  _id: string;
  _rev?: string;
  type: 'lease';
  name: string;
}

export const LEASE_SECONDS = 60;

/**
 * One writer at a time for something named (a request): a document lease (db/lease.ts) on the
 * server's clock, renewed while the work goes on, taken over when it ends, when its holder on this
 * host is gone, or by the same database handle after a call that could not release it. A second
 * submit of the same request waits for the first instead of racing it.
 */
export class Lease {
  private constructor(
    private readonly lease: DocumentLease<SubmitLeaseDoc>,
    private readonly name: string,
  ) {}

  static async take(db: Database, name: string): Promise<Lease> {
    const id = `lease:${name}`;
    const lease = new DocumentLease<SubmitLeaseDoc>(db, new ServerClock(db.couch), {
      id,
      name,
      seconds: LEASE_SECONDS,
      document: (fields) => ({ _id: id, type: 'lease', name, ...fields }),
    });
    const attempt = await lease.tryTake();
    if (!attempt.taken) {
      const { holder, until } = attempt.holder;
      throw new UnavailableError(
        `${name} is being written by process ${holder.pid} on ${holder.host} (its lease ends ${until}); run the same command again after that`,
      );
    }
    return new Lease(lease, name);
  }

  /** Keeps the lease while the work goes on: a write once past half its time, none before. */
  async renew(): Promise<void> {
    if (!(await this.lease.renewIfDue())) {
      throw new UnavailableError(
        `${this.name}: another process took over this work (its lease had run out); stopping here`,
      );
    }
  }

  /** Best effort: a lease that cannot be removed (the database is down) ends by itself. */
  async release(): Promise<void> {
    try {
      await this.lease.release();
    } catch {
      // it ends within LEASE_SECONDS; a submit through the same database handle takes it back at once
    }
  }
}

import { UnavailableError } from '../errors.js';
import {
  leaseEnd,
  leaseState,
  leaseTakeable,
  renewalDue,
  takesOver,
  type LeaseFields,
  type TakeOver,
} from '../model/lease.js';
import { isAlive } from '../processes.js';
import type { ServerClock } from './clock.js';
import type { Database } from './database.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { LeaseHolder } from './holder.js';

/** A document that is a lease: its own fields beside the lease's. */
export interface LeaseDoc extends LeaseFields {
  _id: string;
  _rev?: string;
}

export interface DocumentLeaseOptions<D extends LeaseDoc> {
  /** The lease document's id. */
  id: string;
  /** What it guards, as messages name it. */
  name: string;
  /** How long a take or a renewal holds it, by the server's clock. */
  seconds: number;
  /** The whole document (its type, name, what it guards) around the lease's own fields. */
  document: (lease: LeaseFields) => D;
  /** Who takes it; by default the database handle's holder. */
  holder?: LeaseHolder;
}

export type LeaseAttempt<D> = { taken: true; replaced?: { doc: D; state: TakeOver } } | { taken: false; holder: D };

/**
 * A lease kept in one document, on the server's clock: taken by a revision race, renewed while
 * held, deleted when released. Anyone takes it over once it has ended (its holder stopped renewing
 * it), at once when its holder ran on this host and its process is gone, and its own holder takes
 * back one it failed to release. The rules are model/lease.ts's; this is their reads and writes.
 * The submit of a request and the cross-site lock (`gasp lock-run`) are both one of these.
 */
export class DocumentLease<D extends LeaseDoc> {
  readonly holder: LeaseHolder;
  #doc: D | undefined;

  constructor(
    readonly db: Database,
    readonly clock: ServerClock,
    readonly options: DocumentLeaseOptions<D>,
  ) {
    this.holder = options.holder ?? db.leaseHolder;
  }

  /** The lease document while this holds it. */
  get held(): D | undefined {
    return this.#doc;
  }

  /** Takes the lease, or says who holds it. */
  async tryTake(): Promise<LeaseAttempt<D>> {
    const { id, seconds } = this.options;
    // a conflict means another changed the document between the read and the write: judge it again
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.clock.sync();
      const stored = await this.db.find<D>(id);
      const now = this.clock.now();
      const taker = { ...this.holder.id, holdsIt: this.holder.holds(id), alive: isAlive };
      const state = leaseState(stored, now, seconds, taker);
      if (stored !== undefined && !leaseTakeable(state)) return { taken: false, holder: stored };
      const at = now.toISOString();
      const lease = { holder: this.holder.id, taken: at, renewed: at, until: leaseEnd(now, seconds) };
      const doc = { ...this.options.document(lease), ...(stored?._rev !== undefined && { _rev: stored._rev }) };
      try {
        this.#doc = { ...doc, _rev: (await this.db.put(doc)).rev };
        this.holder.hold(id);
        return stored !== undefined && takesOver(state)
          ? { taken: true, replaced: { doc: stored, state } }
          : { taken: true };
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
      }
    }
    throw new UnavailableError(
      `${this.options.name}: another process took it at the same moment; run the same command again`,
    );
  }

  /** Renews the lease now; false when it is no longer this holder's (another took it over once it ended). */
  async renew(): Promise<boolean> {
    const current = this.#doc;
    if (current === undefined) return false;
    await this.clock.sync();
    const now = this.clock.now();
    const next = { ...current, renewed: now.toISOString(), until: leaseEnd(now, this.options.seconds) };
    try {
      this.#doc = { ...next, _rev: (await this.db.put(next)).rev };
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const stored = await this.db.find<D>(this.options.id);
      // our own write landed on an earlier try (a retry after a lost answer): still ours
      if (stored?.holder?.instance === this.holder.instance) {
        this.#doc = stored;
        return true;
      }
      this.#doc = undefined;
      this.holder.letGo(this.options.id);
      return false;
    }
  }

  /**
   * Renews the lease once past half its time; before that, no write but `stillHeld`'s read. False
   * when it is no longer this holder's.
   */
  async renewIfDue(): Promise<boolean> {
    const current = this.#doc;
    if (current === undefined) return false;
    return renewalDue(current.until, this.clock.now(), this.options.seconds) ? this.renew() : this.stillHeld();
  }

  /**
   * Right before a write the lease guards: whether the stored lease is still the one this holder
   * wrote. A holder paused past the lease's end (a stopped VM, SIGSTOP) resumes with its clock
   * perhaps not moved, so the time would not tell it that another took the lease over; the
   * revision does (or the holder's instance, should its own renewal be in flight). One read.
   */
  async stillHeld(): Promise<boolean> {
    const current = this.#doc;
    if (current === undefined) return false;
    const stored = await this.db.find<D>(this.options.id);
    if (stored !== undefined && (stored._rev === current._rev || stored.holder?.instance === this.holder.instance))
      return true;
    this.#doc = undefined;
    this.holder.letGo(this.options.id);
    return false;
  }

  /** Deletes the lease if this still holds it. Throws when the database cannot be reached: it then ends by itself. */
  async release(): Promise<void> {
    const current = this.#doc;
    if (current === undefined) return;
    this.#doc = undefined;
    // before the removal, so one that fails leaves a lease this holder knows it may take back
    this.holder.letGo(this.options.id);
    if (current._rev === undefined) return;
    try {
      await this.db.remove(current._id, current._rev);
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof NotFoundError)) throw error;
    }
  }
}

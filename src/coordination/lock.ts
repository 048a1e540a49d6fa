import type { ServerClock } from '../db/clock.js';
import type { Database } from '../db/database.js';
import { DocumentLease } from '../db/lease.js';
import { lockId, type Holder, type LockDoc } from '../model/coordination.js';
import type { TakeOver } from '../model/lease.js';
import { repeatEvery, type Repeating } from './repeat.js';

export type LockAttempt = { taken: true; replaced?: LockDoc; why?: TakeOver } | { taken: false; holder: LockDoc };

/**
 * A named lock across sites: a document lease (db/lease.ts) that lasts `staleSeconds` past each
 * renewal, so a holder that stopped renewing it for that long (by the server's clock) is replaced
 * by the next one to try, and one whose process on this host is gone at once.
 */
export class NamedLock {
  readonly holder: Holder;
  readonly #lease: DocumentLease<LockDoc>;
  #renewals: Repeating | undefined;

  constructor(
    readonly db: Database,
    readonly clock: ServerClock,
    readonly name: string,
    readonly options: { site: string; staleSeconds: number; command: string },
  ) {
    this.holder = { site: options.site, ...db.leaseHolder.id };
    this.#lease = new DocumentLease<LockDoc>(db, clock, {
      id: lockId(name),
      name: `lock ${name}`,
      seconds: options.staleSeconds,
      document: (lease) => ({
        _id: lockId(name),
        type: 'lock',
        name,
        command: options.command,
        ...lease,
        holder: this.holder,
      }),
    });
  }

  async tryTake(): Promise<LockAttempt> {
    const attempt = await this.#lease.tryTake();
    if (!attempt.taken) return attempt;
    const { replaced } = attempt;
    return replaced === undefined ? { taken: true } : { taken: true, replaced: replaced.doc, why: replaced.state };
  }

  /** Renews the lock; false when another holder replaced this one (it found the lock stale). */
  renew(): Promise<boolean> {
    return this.#lease.renew();
  }

  /** Whether this holder still has the lock, right before it acts under it (one read; see DocumentLease). */
  stillHeld(): Promise<boolean> {
    return this.#lease.stillHeld();
  }

  /** Renews every `ms`, one renewal at a time, until released; `onLost` hears of a take-over. */
  keepRenewing(ms: number, onLost: () => void, onError: (error: Error) => void): void {
    this.#renewals = repeatEvery(ms, () =>
      this.renew().then(
        (held) => {
          if (!held) onLost();
          return held;
        },
        (error: unknown) => {
          onError(error as Error);
          return true;
        },
      ),
    );
  }

  /** Releases the lock if this holder still has it. */
  async release(): Promise<void> {
    // a renewal in flight would write the lock back after it was deleted
    await this.#renewals?.stop();
    await this.#lease.release();
  }
}

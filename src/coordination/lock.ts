import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import { ConflictError, NotFoundError } from '../db/errors.js';
import { lockId, type Holder, type LockDoc } from '../model/coordination.js';
import type { ServerClock } from './clock.js';
import { repeatEvery, type Repeating } from './repeat.js';

export type LockAttempt = { taken: true; replaced?: LockDoc } | { taken: false; holder: LockDoc };

/**
 * A named lock across sites: one document, taken by a revision race, renewed while held, deleted
 * when released. A holder that stopped renewing for `stale` seconds (by the server's clock) is
 * replaced by the next one to try.
 */
export class NamedLock {
  readonly holder: Holder;
  #doc: LockDoc | undefined;
  #renewals: Repeating | undefined;

  constructor(
    readonly db: Database,
    readonly clock: ServerClock,
    readonly name: string,
    readonly options: { site: string; staleSeconds: number; command: string },
  ) {
    this.holder = { site: options.site, host: hostname(), pid: process.pid, instance: randomUUID() };
  }

  async tryTake(): Promise<LockAttempt> {
    await this.clock.sync();
    const existing = await this.db.find<LockDoc>(lockId(this.name));
    if (existing !== undefined && this.clock.ageSeconds(existing.renewed) < this.options.staleSeconds)
      return { taken: false, holder: existing };
    const now = this.clock.now().toISOString();
    const doc: LockDoc = {
      _id: lockId(this.name),
      ...(existing?._rev !== undefined && { _rev: existing._rev }),
      type: 'lock',
      name: this.name,
      holder: this.holder,
      command: this.options.command,
      taken: now,
      renewed: now,
    };
    try {
      this.#doc = { ...doc, _rev: (await this.db.put(doc)).rev };
      return existing === undefined ? { taken: true } : { taken: true, replaced: existing };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const winner = await this.db.find<LockDoc>(lockId(this.name));
      if (winner === undefined) return this.tryTake();
      return { taken: false, holder: winner };
    }
  }

  /** Renews the lock; false when another holder replaced this one (it found the lock stale). */
  async renew(): Promise<boolean> {
    const current = this.#doc;
    if (current === undefined) return false;
    await this.clock.sync();
    const next = { ...current, renewed: this.clock.now().toISOString() };
    try {
      this.#doc = { ...next, _rev: (await this.db.put(next)).rev };
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const stored = await this.db.find<LockDoc>(lockId(this.name));
      // our own write landed on an earlier try (a retry after a lost answer): still ours
      if (stored?.holder.instance === this.holder.instance) {
        this.#doc = stored;
        return true;
      }
      this.#doc = undefined;
      return false;
    }
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
    const current = this.#doc;
    this.#doc = undefined;
    if (current?._rev === undefined) return;
    try {
      await this.db.remove(current._id, current._rev);
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof NotFoundError)) throw error;
    }
  }
}
